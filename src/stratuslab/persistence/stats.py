"""Aggregate queries for the cloud-load page and the metrics (`uow.repo("stats")`): one
GROUP BY each, whatever the number of VMs and jobs.  Imports core and this package only."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from stratuslab.core.stats import VmCount
from stratuslab.persistence import tables as t


class SqlStatsRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def vm_counts(self) -> list[VmCount]:
        q = (select(t.vms.c.state, t.vms.c.host, func.count(), func.sum(t.vms.c.vcpu),
                    func.sum(t.vms.c.memory_mib))
             .group_by(t.vms.c.state, t.vms.c.host))
        return [VmCount(state, host, int(n), int(cpu or 0), int(mem or 0))
                for state, host, n, cpu, mem in self.conn.execute(q)]

    def job_counts(self) -> list[tuple[str, str, int]]:
        q = select(t.jobs.c.kind, t.jobs.c.state, func.count()).group_by(t.jobs.c.kind,
                                                                         t.jobs.c.state)
        return [(kind, state, int(n)) for kind, state, n in self.conn.execute(q)]

    def user_count(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(t.users)).scalar_one())
