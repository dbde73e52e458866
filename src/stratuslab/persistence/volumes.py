"""Volume tables and the SQLAlchemy VolumeRepo / StorageQuotaRepo (core/volumes.py).

`volumes` carries the attach guard (`attach_count`, `writer_vm`) next to the record, so that
attaching and deleting are single-statement compare-and-swaps on one row: PostgreSQL (READ
COMMITTED re-evaluates the WHERE clause after taking the row lock) and SQLite (one writer at a
time, BEGIN IMMEDIATE) both let exactly one of two racing callers win.  Quota usage rows change by
conditional UPDATEs too, in the caller's transaction.  The tables live on the shared `metadata`
of persistence/tables.py; migration 0004_volumes creates them.  Imports core and persistence
only: never services, drivers or api.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    and_,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from stratuslab.core.volumes import (
    Attachment,
    AttachRefusal,
    QuotaSubject,
    StorageQuota,
    StorageUsage,
    UsageDelta,
    Volume,
    VolumeState,
)
from stratuslab.persistence.tables import metadata

volumes = Table(
    "volumes",
    metadata,
    Column("uuid", String(36), primary_key=True),
    Column("owner", String(64), nullable=False, index=True),
    Column("group", String(64), nullable=False),
    Column("size_gb", Integer, nullable=False),
    Column("pool", String(64), nullable=False),
    Column("tag", String(40), nullable=False),
    Column("visibility", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("readonly", Boolean, nullable=False),
    Column("parent", String(128), index=True),
    Column("location", Text),
    Column("format", String(16)),  # recorded at creation; never probed from the bytes
    Column("error", Text),
    Column("vm_id", Integer, index=True),
    Column("quarantined_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Column("attach_count", Integer, nullable=False, default=0),
    Column("writer_vm", Integer),
)

volume_attachments = Table(
    "volume_attachments",
    metadata,
    Column(
        "volume_uuid",
        String(36),
        ForeignKey("volumes.uuid", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("vm_id", Integer, primary_key=True, index=True),
    Column("device", String(32)),
    Column("readonly", Boolean, nullable=False),
    Column("attached_at", DateTime(timezone=True)),
)

storage_quotas = Table(
    "storage_quotas",
    metadata,
    Column("subject_kind", String(8), primary_key=True),
    Column("subject_name", String(64), primary_key=True),
    Column("max_volumes", Integer),
    Column("max_gb", Integer),
)

storage_usage = Table(
    "storage_usage",
    metadata,
    Column("subject_kind", String(8), primary_key=True),
    Column("subject_name", String(64), primary_key=True),
    Column("volumes", Integer, nullable=False),
    Column("gb", Integer, nullable=False),
)

#: record columns that `update` saves; state and the guard change only through the CAS methods
_METADATA = ("tag", "visibility", "readonly", "location", "error", "quarantined_at", "updated_at")


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class SqlVolumeRepo:
    """VolumeRepo over one unit-of-work connection (registered as uow.repo("volumes"))."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, volume: Volume) -> None:
        values = {c.name: getattr(volume, c.name) for c in volumes.c if hasattr(volume, c.name)}
        values.update(attach_count=0, writer_vm=None)
        self.conn.execute(insert(volumes).values(**values))

    def _attached(self, uuids: builtins.list[str]) -> dict[str, builtins.list[int]]:
        out: dict[str, builtins.list[int]] = {u: [] for u in uuids}
        if not uuids:
            return out
        rows = self.conn.execute(
            select(volume_attachments.c.volume_uuid, volume_attachments.c.vm_id).where(
                volume_attachments.c.volume_uuid.in_(uuids)
            )
        )
        for r in rows:
            out[r.volume_uuid].append(int(r.vm_id))
        return out

    def _volumes(self, rows: Any) -> builtins.list[Volume]:
        rows = list(rows)
        held = self._attached([r.uuid for r in rows])
        out = []
        for r in rows:
            m = r._mapping
            out.append(
                Volume(
                    uuid=m["uuid"], owner=m["owner"], group=m["group"], size_gb=m["size_gb"],
                    pool=m["pool"], tag=m["tag"], visibility=m["visibility"], kind=m["kind"],
                    state=m["state"], readonly=bool(m["readonly"]), parent=m["parent"],
                    location=m["location"], format=m["format"], error=m["error"],
                    vm_id=m["vm_id"],
                    attached_to=tuple(sorted(held[m["uuid"]])),
                    quarantined_at=_utc(m["quarantined_at"]),
                    created_at=_utc(m["created_at"]), updated_at=_utc(m["updated_at"]),
                )  # fmt: skip
            )
        return out

    def _alive(self) -> Any:
        return volumes.c.state != VolumeState.DELETED.value

    def get(self, uuid: str) -> Volume | None:
        rows = self.conn.execute(select(volumes).where(volumes.c.uuid == uuid, self._alive()))
        found = self._volumes(rows)
        return found[0] if found else None

    def list(self, *, owner: str | None = None, include_public: bool = True) -> list[Volume]:
        query = select(volumes).where(self._alive())
        if owner is not None:
            mine = volumes.c.owner == owner
            if include_public:
                mine = or_(mine, volumes.c.visibility == "public")
            query = query.where(mine)
        return self._volumes(self.conn.execute(query.order_by(volumes.c.created_at, volumes.c.uuid)))

    def update(self, volume: Volume) -> None:
        values = {name: getattr(volume, name) for name in _METADATA}
        self.conn.execute(update(volumes).where(volumes.c.uuid == volume.uuid).values(**values))

    def cas_state(
        self, uuid: str, expected: str, new: str, *, require_detached: bool = False
    ) -> bool:
        where = [volumes.c.uuid == uuid, volumes.c.state == str(expected)]
        if require_detached:
            where.append(volumes.c.attach_count == 0)
        result = self.conn.execute(update(volumes).where(*where).values(state=str(new)))
        return bool(result.rowcount == 1)

    def try_attach(self, attachment: Attachment, *, exclusive: bool) -> AttachRefusal | None:
        uuid, vm_id = attachment.volume_uuid, attachment.vm_id
        if self._attachment(uuid, vm_id) is not None:
            return None
        ready = and_(volumes.c.uuid == uuid, volumes.c.state == VolumeState.READY.value)
        if exclusive:
            stmt = (
                update(volumes)
                .where(ready, volumes.c.attach_count == 0)
                .values(writer_vm=vm_id, attach_count=volumes.c.attach_count + 1)
            )
        else:
            stmt = (
                update(volumes)
                .where(ready, volumes.c.writer_vm.is_(None))
                .values(attach_count=volumes.c.attach_count + 1)
            )
        if self.conn.execute(stmt).rowcount == 1:
            self.conn.execute(
                insert(volume_attachments).values(
                    volume_uuid=uuid, vm_id=vm_id, device=attachment.device,
                    readonly=attachment.readonly, attached_at=attachment.attached_at,
                )  # fmt: skip
            )
            return None
        return self._refusal(uuid)

    def _refusal(self, uuid: str) -> AttachRefusal:
        row = self.conn.execute(
            select(volumes.c.state, volumes.c.writer_vm).where(volumes.c.uuid == uuid)
        ).first()
        if row is None:
            return AttachRefusal(state=VolumeState.DELETED.value)
        if row.state != VolumeState.READY.value:
            return AttachRefusal(state=row.state)
        holder = row.writer_vm
        if holder is None:
            holder = self.conn.execute(
                select(func.min(volume_attachments.c.vm_id)).where(
                    volume_attachments.c.volume_uuid == uuid
                )
            ).scalar()
        return AttachRefusal(state=row.state, holder=holder)

    def _attachment(self, uuid: str, vm_id: int) -> Any:
        return self.conn.execute(
            select(volume_attachments).where(
                volume_attachments.c.volume_uuid == uuid, volume_attachments.c.vm_id == vm_id
            )
        ).first()

    def set_device(self, volume_uuid: str, vm_id: int, device: str | None) -> None:
        self.conn.execute(
            update(volume_attachments)
            .where(
                volume_attachments.c.volume_uuid == volume_uuid,
                volume_attachments.c.vm_id == vm_id,
            )
            .values(device=device)
        )

    def detach(self, volume_uuid: str, vm_id: int) -> bool:
        gone = self.conn.execute(
            delete(volume_attachments).where(
                volume_attachments.c.volume_uuid == volume_uuid,
                volume_attachments.c.vm_id == vm_id,
            )
        )
        if gone.rowcount != 1:
            return False
        self.conn.execute(
            update(volumes)
            .where(volumes.c.uuid == volume_uuid)
            .values(
                attach_count=case(
                    (volumes.c.attach_count > 0, volumes.c.attach_count - 1), else_=0
                ),
                writer_vm=case((volumes.c.writer_vm == vm_id, None), else_=volumes.c.writer_vm),
            )
        )
        return True

    def _attachments(self, where: Any) -> builtins.list[Attachment]:
        rows = self.conn.execute(
            select(volume_attachments)
            .where(where)
            .order_by(volume_attachments.c.volume_uuid, volume_attachments.c.vm_id)
        )
        return [
            Attachment(r.volume_uuid, int(r.vm_id), device=r.device, readonly=bool(r.readonly),
                       attached_at=_utc(r.attached_at))  # fmt: skip
            for r in rows
        ]

    def attachments(self, volume_uuid: str) -> builtins.list[Attachment]:
        return self._attachments(volume_attachments.c.volume_uuid == volume_uuid)

    def attachments_of_vm(self, vm_id: int) -> builtins.list[Attachment]:
        return self._attachments(volume_attachments.c.vm_id == vm_id)

    def children(self, uuid: str) -> builtins.list[Volume]:
        rows = self.conn.execute(
            select(volumes).where(volumes.c.parent == f"volume:{uuid}", self._alive())
        )
        return self._volumes(rows)

    def of_vm(self, vm_id: int) -> builtins.list[Volume]:
        rows = self.conn.execute(select(volumes).where(volumes.c.vm_id == vm_id, self._alive()))
        return self._volumes(rows)


class SqlStorageQuotaRepo:
    """StorageQuotaRepo over one unit-of-work connection (uow.repo("storage_quotas"))."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @staticmethod
    def _key(table: Table, subject: QuotaSubject) -> Any:
        return and_(
            table.c.subject_kind == subject.kind.value, table.c.subject_name == subject.name
        )

    def limit(self, subject: QuotaSubject) -> StorageQuota | None:
        row = self.conn.execute(
            select(storage_quotas).where(self._key(storage_quotas, subject))
        ).first()
        return StorageQuota(row.max_volumes, row.max_gb) if row else None

    def set_limit(self, subject: QuotaSubject, quota: StorageQuota | None) -> None:
        self.conn.execute(delete(storage_quotas).where(self._key(storage_quotas, subject)))
        if quota is not None:
            self.conn.execute(
                insert(storage_quotas).values(
                    subject_kind=subject.kind.value, subject_name=subject.name,
                    max_volumes=quota.max_volumes, max_gb=quota.max_gb,
                )  # fmt: skip
            )

    def usage(self, subject: QuotaSubject) -> StorageUsage:
        row = self.conn.execute(
            select(storage_usage).where(self._key(storage_usage, subject))
        ).first()
        return StorageUsage(int(row.volumes), int(row.gb)) if row else StorageUsage()

    def _ensure_row(self, subject: QuotaSubject) -> None:
        if self.conn.execute(
            select(storage_usage.c.gb).where(self._key(storage_usage, subject))
        ).first():
            return
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(storage_usage).values(
                        subject_kind=subject.kind.value, subject_name=subject.name,
                        volumes=0, gb=0,
                    )  # fmt: skip
                )
        except IntegrityError:
            pass  # a concurrent charge inserted it first

    def try_charge(self, subject: QuotaSubject, delta: UsageDelta, quota: StorageQuota) -> bool:
        self._ensure_row(subject)
        where = [self._key(storage_usage, subject)]
        if quota.max_volumes is not None:
            where.append(storage_usage.c.volumes + delta.volumes <= quota.max_volumes)
        if quota.max_gb is not None:
            where.append(storage_usage.c.gb + delta.gb <= quota.max_gb)
        result = self.conn.execute(
            update(storage_usage)
            .where(*where)
            .values(
                volumes=storage_usage.c.volumes + delta.volumes,
                gb=storage_usage.c.gb + delta.gb,
            )
        )
        return bool(result.rowcount == 1)

    def release(self, subject: QuotaSubject, delta: UsageDelta) -> None:
        u = storage_usage.c
        self.conn.execute(
            update(storage_usage)
            .where(self._key(storage_usage, subject))
            .values(
                volumes=case((u.volumes > delta.volumes, u.volumes - delta.volumes), else_=0),
                gb=case((u.gb > delta.gb, u.gb - delta.gb), else_=0),
            )
        )
