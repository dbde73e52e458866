"""The SQLAlchemy ComputeQuotaRepo (core/quotas.py): limits in `compute_quotas`, usage summed
from `vms` in the caller's transaction (never a counter that could drift from the VM records).

On PostgreSQL `lock` takes a transaction-scoped advisory lock per subject, so two concurrent
reservations of one user are checked one after the other; SQLite writers already are (BEGIN
IMMEDIATE).  Imports core and the tables only.
"""

from __future__ import annotations

import zlib
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, text

from stratuslab.core.quotas import RELEASED, ComputeQuota, ComputeUsage, Subject, SubjectKind
from stratuslab.persistence import tables as t

REPO = "compute_quotas"


class SqlComputeQuotaRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @staticmethod
    def _key(subject: Subject) -> Any:
        q = t.compute_quotas.c
        return and_(q.subject_kind == subject.kind.value, q.subject_name == subject.name)

    def limit(self, subject: Subject) -> ComputeQuota | None:
        row = self.conn.execute(select(t.compute_quotas).where(self._key(subject))).first()
        if row is None:
            return None
        return ComputeQuota(row.vms, row.cpu, row.memory_mib, row.disk_gb)

    def set_limit(self, subject: Subject, quota: ComputeQuota | None) -> None:
        self.conn.execute(delete(t.compute_quotas).where(self._key(subject)))
        if quota is not None:
            self.conn.execute(insert(t.compute_quotas).values(
                subject_kind=subject.kind.value, subject_name=subject.name, vms=quota.vms,
                cpu=quota.cpu, memory_mib=quota.memory_mib, disk_gb=quota.disk_gb))

    def usage(self, subject: Subject | None) -> ComputeUsage:
        v = t.vms.c
        where: list[Any] = [v.state.not_in([s.value for s in RELEASED])]
        if subject is not None:
            where.append((v.owner if subject.kind is SubjectKind.USER else v.group)
                         == subject.name)
        row = self.conn.execute(select(
            func.count(), func.coalesce(func.sum(v.vcpu), 0),
            func.coalesce(func.sum(v.memory_mib), 0), func.coalesce(func.sum(v.disk_gb), 0),
        ).where(*where)).one()
        return ComputeUsage(*(int(x) for x in row))

    def lock(self, subject: Subject | None) -> None:
        if self.conn.dialect.name != "postgresql":
            return
        name = "capacity" if subject is None else f"quota:{subject.kind.value}:{subject.name}"
        key = zlib.crc32(name.encode()) - 2**31  # a signed 32-bit advisory lock key
        self.conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
