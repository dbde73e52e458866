"""Quarantine of finished VMs' instance directories: admin listing, showing, purging, and the
periodic purger that removes entries older than the retention period."""

from __future__ import annotations

import builtins
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from stratuslab.core.entities import Principal
from stratuslab.core.errors import NotFound
from stratuslab.core.instance import QuarantineEntry
from stratuslab.core.node import Node
from stratuslab.services.periodic import PeriodicWorker
from stratuslab.services.policy import authorize_service

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Quarantined:
    entry: QuarantineEntry
    node: str
    expires_at: float
    files: tuple[str, ...] = ()


class QuarantineService:
    def __init__(
        self, nodes: Mapping[str, Node], *, period_s: float, interval_s: float = 300.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.nodes = nodes
        self.period = period_s
        self.interval = interval_s
        self.now = now
        self.worker = PeriodicWorker("quarantine-purger", self.purge_expired, interval=interval_s)

    def _all(self) -> list[Quarantined]:
        out = []
        for name, node in self.nodes.items():
            for e in node.storage.quarantined():
                out.append(Quarantined(e, name, e.quarantined_at + self.period))
        return sorted(out, key=lambda q: q.entry.quarantined_at)

    def list(self, principal: Principal) -> builtins.list[Quarantined]:
        authorize_service(principal, "quarantine.list")
        return self._all()

    def show(self, principal: Principal, vm_id: int) -> Quarantined:
        authorize_service(principal, "quarantine.list")
        for q in self._all():
            if q.entry.vm_id == vm_id:
                files = []
                for root, _dirs, names in os.walk(q.entry.path):
                    files += [os.path.relpath(os.path.join(root, n), q.entry.path) for n in names]
                return Quarantined(q.entry, q.node, q.expires_at, tuple(sorted(files)))
        raise NotFound("quarantined VM", vm_id, "stratus quarantine list")

    def purge(self, principal: Principal, vm_id: int | None = None) -> builtins.list[int]:
        """Purge one entry (any age), or every expired entry when `vm_id` is None."""
        authorize_service(principal, "quarantine.purge")
        if vm_id is not None:
            q = self.show(principal, vm_id)
            self.nodes[q.node].storage.purge(vm_id)
            return [vm_id]
        return self.purge_expired()

    def purge_expired(self) -> builtins.list[int]:
        now = self.now()
        purged: builtins.list[int] = []
        for q in self._all():
            if q.expires_at <= now:
                self.nodes[q.node].storage.purge(q.entry.vm_id)
                purged.append(q.entry.vm_id)
        if purged:
            log.info("purged quarantined VMs %s", purged)
        return purged

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()
