"""In-memory volume and quota repositories, and a unit of work holding them: the fakes that unit
tests (and the repository contract suite) run the storage service on.

They keep the same guards the SQL implementation keeps (`attach_count`, `writer_vm`) behind one
lock, so the compare-and-swap semantics are those of the real database.  Changes apply at once:
this unit of work does not roll back (a fake, named as such).  Imports `core` only.
"""

from __future__ import annotations

import builtins
import dataclasses
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Self

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


@dataclass(slots=True)
class _Row:
    volume: Volume
    attach_count: int = 0
    writer_vm: int | None = None


class InMemoryVolumeRepo:
    def __init__(self, lock: threading.RLock | None = None) -> None:
        self._lock = lock or threading.RLock()
        self._rows: dict[str, _Row] = {}
        self._attachments: dict[tuple[str, int], Attachment] = {}

    def add(self, volume: Volume) -> None:
        with self._lock:
            if volume.uuid in self._rows:
                raise KeyError(f"volume {volume.uuid} already recorded")
            self._rows[volume.uuid] = _Row(dataclasses.replace(volume, attached_to=()))

    def _view(self, row: _Row) -> Volume:
        vms = sorted(vm for (u, vm) in self._attachments if u == row.volume.uuid)
        return dataclasses.replace(row.volume, attached_to=tuple(vms))

    def get(self, uuid: str) -> Volume | None:
        with self._lock:
            row = self._rows.get(uuid)
            if row is None or row.volume.state == VolumeState.DELETED:
                return None
            return self._view(row)

    def list(self, *, owner: str | None = None, include_public: bool = True) -> list[Volume]:
        with self._lock:
            return [
                self._view(r)
                for r in self._rows.values()
                if r.volume.state != VolumeState.DELETED
                and (
                    owner is None
                    or r.volume.owner == owner
                    or (include_public and r.volume.is_public)
                )
            ]

    def update(self, volume: Volume) -> None:
        with self._lock:
            row = self._rows[volume.uuid]
            # the guarded columns (state, attachments) change only through the CAS methods
            row.volume = dataclasses.replace(volume, state=row.volume.state, attached_to=())

    def cas_state(
        self, uuid: str, expected: str, new: str, *, require_detached: bool = False
    ) -> bool:
        with self._lock:
            row = self._rows.get(uuid)
            if row is None or row.volume.state != expected:
                return False
            if require_detached and row.attach_count:
                return False
            row.volume = dataclasses.replace(row.volume, state=new)
            return True

    def try_attach(self, attachment: Attachment, *, exclusive: bool) -> AttachRefusal | None:
        key = (attachment.volume_uuid, attachment.vm_id)
        with self._lock:
            row = self._rows.get(attachment.volume_uuid)
            if row is None:
                return AttachRefusal(state=VolumeState.DELETED.value)
            if key in self._attachments:
                return None
            if row.volume.state != VolumeState.READY:
                return AttachRefusal(state=row.volume.state)
            if exclusive and row.attach_count:
                holder = row.writer_vm
                if holder is None:
                    holder = min(vm for (u, vm) in self._attachments if u == key[0])
                return AttachRefusal(state=row.volume.state, holder=holder)
            if not exclusive and row.writer_vm is not None:
                return AttachRefusal(state=row.volume.state, holder=row.writer_vm)
            row.attach_count += 1
            if exclusive:
                row.writer_vm = attachment.vm_id
            self._attachments[key] = attachment
            return None

    def set_device(self, volume_uuid: str, vm_id: int, device: str | None) -> None:
        with self._lock:
            key = (volume_uuid, vm_id)
            if key in self._attachments:
                self._attachments[key] = dataclasses.replace(self._attachments[key], device=device)

    def detach(self, volume_uuid: str, vm_id: int) -> bool:
        with self._lock:
            if self._attachments.pop((volume_uuid, vm_id), None) is None:
                return False
            row = self._rows[volume_uuid]
            row.attach_count = max(0, row.attach_count - 1)
            if row.writer_vm == vm_id:
                row.writer_vm = None
            return True

    def attachments(self, volume_uuid: str) -> builtins.list[Attachment]:
        with self._lock:
            return [a for (u, _), a in sorted(self._attachments.items()) if u == volume_uuid]

    def attachments_of_vm(self, vm_id: int) -> builtins.list[Attachment]:
        with self._lock:
            return [a for (_, vm), a in sorted(self._attachments.items()) if vm == vm_id]

    def children(self, uuid: str) -> builtins.list[Volume]:
        with self._lock:
            return [
                self._view(r)
                for r in self._rows.values()
                if r.volume.parent == f"volume:{uuid}" and r.volume.state != VolumeState.DELETED
            ]

    def of_vm(self, vm_id: int) -> builtins.list[Volume]:
        with self._lock:
            return [
                self._view(r)
                for r in self._rows.values()
                if r.volume.vm_id == vm_id and r.volume.state != VolumeState.DELETED
            ]


class InMemoryStorageQuotaRepo:
    def __init__(self, lock: threading.RLock | None = None) -> None:
        self._lock = lock or threading.RLock()
        self._limits: dict[QuotaSubject, StorageQuota] = {}
        self._usage: dict[QuotaSubject, StorageUsage] = {}

    def limit(self, subject: QuotaSubject) -> StorageQuota | None:
        with self._lock:
            return self._limits.get(subject)

    def set_limit(self, subject: QuotaSubject, quota: StorageQuota | None) -> None:
        with self._lock:
            if quota is None:
                self._limits.pop(subject, None)
            else:
                self._limits[subject] = quota

    def usage(self, subject: QuotaSubject) -> StorageUsage:
        with self._lock:
            return self._usage.get(subject, StorageUsage())

    def try_charge(self, subject: QuotaSubject, delta: UsageDelta, quota: StorageQuota) -> bool:
        with self._lock:
            now = self._usage.get(subject, StorageUsage())
            volumes, gb = now.volumes + delta.volumes, now.gb + delta.gb
            if quota.max_volumes is not None and volumes > quota.max_volumes:
                return False
            if quota.max_gb is not None and gb > quota.max_gb:
                return False
            self._usage[subject] = StorageUsage(volumes, gb)
            return True

    def release(self, subject: QuotaSubject, delta: UsageDelta) -> None:
        with self._lock:
            now = self._usage.get(subject, StorageUsage())
            self._usage[subject] = StorageUsage(
                max(0, now.volumes - delta.volumes), max(0, now.gb - delta.gb)
            )


class InMemoryStorageUnitOfWork:
    """Holds the two repositories (as attributes and as `repo("volumes")`,
    `repo("storage_quotas")`); `commit` is a no-op and nothing rolls back (fake)."""

    def __init__(self) -> None:
        lock = threading.RLock()
        self.volumes = InMemoryVolumeRepo(lock)
        self.storage_quotas = InMemoryStorageQuotaRepo(lock)
        self.commits = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def commit(self) -> None:
        self.commits += 1

    def repo(self, name: str) -> InMemoryVolumeRepo | InMemoryStorageQuotaRepo:
        if name == "volumes":
            return self.volumes
        if name == "storage_quotas":
            return self.storage_quotas
        raise KeyError(f"no repository {name!r} in the storage unit of work")

    def __call__(self) -> Self:
        """Be its own factory: every `uow()` shares the same in-memory data."""
        return self
