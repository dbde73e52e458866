"""Leadership: the one front end, among those sharing a database, that does cloud-wide duties.

Every front end keeps trying to take the leader lock (`core.ports.NamedLock`) every `interval`
seconds; the holder is the leader until its process or its database connection dies, and then
another front end takes over at its next try.  Duties that must run once per cloud (e.g. the
volume quarantine purger) ask `is_leader()` each round.  Imports core and services only.
"""

from __future__ import annotations

import logging

from stratuslab.core.ports import NamedLock
from stratuslab.services.periodic import PeriodicWorker

log = logging.getLogger(__name__)


class Leadership:
    def __init__(self, lock: NamedLock, *, interval: float = 1.0, who: str = "this server") -> None:
        self.lock = lock
        self.who = who
        self._leader = False
        self._worker = PeriodicWorker("leadership", self.round, interval=interval, run_first=True)

    def round(self) -> None:
        """One try (also used by tests): take the lock, or notice it was lost."""
        was = self._leader
        self._leader = self.lock.try_acquire()
        if self._leader != was:
            log.info("%s %s the leader", self.who, "is now" if self._leader else "is no longer")

    def is_leader(self) -> bool:
        return self._leader

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
        self._leader = False
        self.lock.release()
