"""The cloud's load: what each host has, what its VMs hold, VMs by state, jobs by kind and state.

`hosts` maps each node the front end serves to a callable reading its capacity (the node's
monitoring driver); a host that does not answer is reported with no capacity rather than
failing the page.  Imports core only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import cast

from stratuslab.core.ports import UnitOfWork, UnitOfWorkFactory
from stratuslab.core.stats import HOLDING, CloudLoad, HostCapacity, HostLoad, StatsRepository

log = logging.getLogger(__name__)
REPO = "stats"


def _repo(uow: UnitOfWork) -> StatsRepository:
    return cast(StatsRepository, uow.repo(REPO))


class CloudStats:
    def __init__(self, uow: UnitOfWorkFactory,
                 hosts: Mapping[str, Callable[[], HostCapacity]]) -> None:
        self.uow = uow
        self.hosts = hosts

    def _capacity(self, name: str) -> HostCapacity | None:
        try:
            return self.hosts[name]()
        except Exception:  # one silent host must not take the page down
            log.exception("host %s did not report its capacity", name)
            return None

    def load(self) -> CloudLoad:
        with self.uow(readonly=True) as uow:
            counts = _repo(uow).vm_counts()
            jobs = _repo(uow).job_counts()
            users = _repo(uow).user_count()
        by_state: dict[str, int] = {}
        held: dict[str, list[int]] = {}
        for c in counts:
            by_state[c.state] = by_state.get(c.state, 0) + c.vms
            if c.host and c.state in HOLDING:
                slot = held.setdefault(c.host, [0, 0, 0])
                slot[0] += c.vcpu
                slot[1] += c.memory_mib
                slot[2] += c.vms
        names = sorted(set(self.hosts) | set(held))
        hosts = [HostLoad(n, self._capacity(n) if n in self.hosts else None,
                          *held.get(n, [0, 0, 0])) for n in names]
        return CloudLoad(hosts, by_state, {(k, s): n for k, s, n in jobs}, users)
