"""The ports of the volume services: where the bytes live (`VolumeBackendPort`) and the records
(`VolumeRepo`, `StorageQuotaRepo`).  Only the standard library."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Protocol

from stratuslab.core.hypervisor import DiskAuth
from stratuslab.core.volumes.model import (
    Attachment,
    AttachRefusal,
    QuotaSubject,
    StorageQuota,
    StorageUsage,
    UsageDelta,
    Volume,
)


@dataclass(frozen=True, slots=True)
class BackendVolume:
    """What a backend reports about one of its volumes."""

    uuid: str
    location: str
    size_bytes: int
    exported: bool = False


@dataclass(frozen=True, slots=True)
class ParentFile:
    """The bytes a new volume grows from, and the format they were recorded with (the image's
    registered format, or the parent volume's pool format).  The format is always passed to the
    tools, so a header a guest wrote into a raw volume is never taken for a qcow2 one."""

    path: str
    format: str


@dataclass(frozen=True, slots=True)
class BackendCaps:
    copy_on_write: bool = True  # children share the parent's blocks (False: a full copy)
    remote: bool = False  # exports reachable from other hosts (iSCSI)
    real: bool = True  # False for the simulated backend


class VolumeBackendPort(Protocol):
    """Where volume bytes live.  Every method is idempotent: repeating a call that already
    succeeded succeeds again (a job step may run twice after a restart)."""

    @property
    def name(self) -> str:
        """The driver's registered name (a class attribute of the driver)."""
        ...

    @property
    def capabilities(self) -> BackendCaps: ...

    def create(self, uuid: str, size_gb: int, parent: ParentFile | None = None) -> str:
        """Make the volume (a copy-on-write child of `parent` when given: an image file or
        another volume's location, opened with the format recorded for it, never probed);
        return its location."""
        ...

    def delete(self, uuid: str) -> None:
        """Unexport and remove the volume; nothing left behind.  Missing is not an error."""
        ...

    def export(self, uuid: str) -> str:
        """Make the volume reachable by QEMU; return the attach source: a path for `file`,
        `iscsi://<portal>/<iqn>/1` for `iscsi`."""
        ...

    def unexport(self, uuid: str) -> None: ...

    def list(self) -> list[BackendVolume]: ...

    def source_format(self, uuid: str) -> str:
        """The format QEMU must open the export source with (qcow2 | raw)."""
        ...

    def credentials(self, uuid: str) -> DiskAuth | None:
        """The volume's own login (iSCSI CHAP) for the node that attaches it; None when its
        export needs none.  Handed only in the disk given to that node's hypervisor."""
        ...


class VolumeRepo(Protocol):
    """Volume records and attachments.

    The attach and delete guards are compare-and-swap updates on the volume row, which carries
    `attach_count` (all attachments) and `writer_vm` (the VM holding a writable volume):

    - `try_attach(a, exclusive=True)`:
      `UPDATE volumes SET writer_vm=:vm, attach_count=attach_count+1
       WHERE uuid=:u AND state='ready' AND attach_count=0` then insert the attachment row;
    - `try_attach(a, exclusive=False)` (read-only sharing):
      `UPDATE volumes SET attach_count=attach_count+1
       WHERE uuid=:u AND state='ready' AND writer_vm IS NULL` then insert the row;
    - `cas_state(u, 'ready', 'deleting', require_detached=True)`:
      `UPDATE volumes SET state='deleting' WHERE uuid=:u AND state='ready' AND attach_count=0`.

    One row-level update each, so PostgreSQL (READ COMMITTED re-checks the WHERE after the row
    lock) and SQLite (one writer) both let exactly one of two racing callers win.
    """

    def add(self, volume: Volume) -> None: ...

    def get(self, uuid: str) -> Volume | None:
        """The volume with `attached_to` filled in (sorted VM ids); None when unknown/deleted."""
        ...

    def list(self, *, owner: str | None = None, include_public: bool = True) -> list[Volume]:
        """Volumes not deleted; `owner=None` means all (admins).  With an owner, the owner's
        volumes plus, when `include_public`, everyone's public ones."""
        ...

    def update(self, volume: Volume) -> None:
        """Save metadata (tag, visibility, readonly, location, error, quarantined_at)."""
        ...

    def cas_state(
        self, uuid: str, expected: str, new: str, *, require_detached: bool = False
    ) -> bool:
        """Move `expected -> new`; False when the state differs or (with `require_detached`)
        the volume has any attachment."""
        ...

    def try_attach(self, attachment: Attachment, *, exclusive: bool) -> AttachRefusal | None:
        """Record `attachment` atomically.  None when recorded (or when this VM already holds
        the volume: nothing changes); otherwise why not, naming a VM that holds it (exclusive:
        any holder; shared: the writer)."""
        ...

    def set_device(self, volume_uuid: str, vm_id: int, device: str | None) -> None:
        """Record the device name the hypervisor gave the attachment (vdb...)."""
        ...

    def detach(self, volume_uuid: str, vm_id: int) -> bool:
        """Remove the attachment and release the guard; False when there was none."""
        ...

    def attachments(self, volume_uuid: str) -> builtins.list[Attachment]: ...

    def attachments_of_vm(self, vm_id: int) -> builtins.list[Attachment]: ...

    def children(self, uuid: str) -> builtins.list[Volume]:
        """Volumes not deleted whose parent is `volume:<uuid>` (they need its blocks)."""
        ...

    def of_vm(self, vm_id: int) -> builtins.list[Volume]:
        """Root and volatile volumes that belong to VM `vm_id`."""
        ...


class StorageQuotaRepo(Protocol):
    """Limits and usage counters, changed in the same transaction as the volume they count."""

    def limit(self, subject: QuotaSubject) -> StorageQuota | None: ...

    def set_limit(self, subject: QuotaSubject, quota: StorageQuota | None) -> None: ...

    def usage(self, subject: QuotaSubject) -> StorageUsage: ...

    def try_charge(self, subject: QuotaSubject, delta: UsageDelta, quota: StorageQuota) -> bool:
        """Add a positive `delta` unless it would pass a limit: one conditional
        `UPDATE storage_usage SET volumes=volumes+:dv, gb=gb+:dg WHERE subject=:s
         AND volumes+:dv <= :max_volumes AND gb+:dg <= :max_gb` (insert the row first if
        missing).  False when refused; nothing changed then."""
        ...

    def release(self, subject: QuotaSubject, delta: UsageDelta) -> None:
        """Subtract `delta`, never below zero (`SET gb = MAX(gb - :dg, 0)`)."""
        ...
