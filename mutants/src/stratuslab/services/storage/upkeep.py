"""Storage upkeep outside requests: the volume quarantine purge (a round of a PeriodicWorker)
and, at start-up, the export of every attached volume again.  Imports core and services only."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from stratuslab.core.errors import CloudError
from stratuslab.core.ports import Clock
from stratuslab.core.volumes import Volume

log = logging.getLogger("stratuslab.storage")


class VolumePurger:
    """Purges quarantined volumes older than the retention (run as a PeriodicWorker round)."""

    def __init__(self, purge: Callable[[datetime], list[Volume]], clock: Clock, *,
                 retention_s: float) -> None:  # fmt: skip
        self._purge = purge
        self._clock = clock
        self._retention = timedelta(seconds=retention_s)

    def cutoff(self) -> datetime:
        """Volumes quarantined before this instant are due."""
        return self._clock.now() - self._retention

    def run_once(self) -> list[Volume]:
        purged = self._purge(self.cutoff())
        if purged:
            log.info("storage: purged quarantined volumes %s", [v.uuid for v in purged])
        return purged


def reexport_attached(reexport: Callable[[], int]) -> None:
    """After a restart: the attached volumes' exports again (tgtd may have gone with the host).
    A failure is logged and the server still starts; attach and deploy retry the export."""
    try:
        count = reexport()
        if count:
            log.info("storage: exported %d attached volume(s) again", count)
    except CloudError as exc:
        log.warning("storage: re-export of attached volumes failed: %s", exc.full_message)
