"""Persistent volumes: entities, value objects, errors and the ports that services use.

A volume is a block device with a life of its own (StratusLab's "pdisk"): persistent volumes
made by users, the copy-on-write root volume of a VM, and volatile scratch disks that live and
die with their VM.  Two ports:

- `VolumeBackendPort`: where the bytes live (a directory of qcow2 files, tgt iSCSI LUNs, a
  simulation).  Backend locations never leave the storage side: services store them opaquely and
  hand them back to the same backend.
- `VolumeRepo` / `StorageQuotaRepo`: the records.  Attaching is a compare-and-swap on the volume
  row so that two concurrent attaches of a writable volume cannot both win.

Only the standard library.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from stratuslab.core.errors import Conflict, InvalidState, NotFound, QuotaExceeded

MIN_SIZE_GB = 1
MAX_SIZE_GB = 1024
MAX_TAG_LENGTH = 40
#: `iqn.<yyyy-mm>.<reversed domain>:<uuid>`: the name tgt exports each volume under.
IQN_PREFIX = "iqn.2026-11.org.stratuslab"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class VolumeKind(StrEnum):
    PERSISTENT = "persistent"  # made by a user, outlives VMs
    ROOT = "root"  # copy-on-write root disk of one VM; quarantined with it
    VOLATILE = "volatile"  # scratch disk of one VM, destroyed with it


class Visibility(StrEnum):
    PRIVATE = "private"  # owner (and admins) only
    PUBLIC = "public"  # everyone may see and attach; only the owner changes or deletes


class VolumeState(StrEnum):
    CREATING = "creating"  # recorded and charged to the quota; the backend is making it
    READY = "ready"  # exists in the backend; may be attached
    DELETING = "deleting"  # no attachment may be added; the backend is removing it
    QUARANTINED = "quarantined"  # kept after its VM was killed, purged after the retention
    FAILED = "failed"  # the backend failed; `error` says why; delete it to retry
    DELETED = "deleted"


class ParentKind(StrEnum):
    IMAGE = "image"
    VOLUME = "volume"


@dataclass(frozen=True, slots=True)
class ParentRef:
    """What a copy-on-write child grows from: `image:<id>` or `volume:<uuid>`."""

    kind: ParentKind
    ref: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.ref}"

    @classmethod
    def parse(cls, text: str) -> ParentRef:
        kind, sep, ref = text.partition(":")
        if not sep or kind not in ParentKind.__members__.values() or not ref:
            raise ValueError(f"parent {text!r} is not image:<id> or volume:<uuid>")
        return cls(ParentKind(kind), ref)


@dataclass(slots=True)
class Volume:
    """One volume.  Persistence maps it column by column (same names); `attached_to` is read
    from the attachments, not stored on the row."""

    uuid: str
    owner: str
    group: str
    size_gb: int
    pool: str
    tag: str = ""
    visibility: str = Visibility.PRIVATE.value
    kind: str = VolumeKind.PERSISTENT.value
    state: str = VolumeState.CREATING.value
    readonly: bool = False
    parent: str | None = None  # str(ParentRef)
    location: str | None = None  # the backend's own handle, opaque outside the backend
    error: str | None = None
    vm_id: int | None = None  # the VM a root/volatile volume belongs to
    attached_to: tuple[int, ...] = ()
    quarantined_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_public(self) -> bool:
        return self.visibility == Visibility.PUBLIC.value

    @property
    def shareable(self) -> bool:
        """Read-only volumes may be attached to many VMs; writable ones to one at a time."""
        return self.readonly

    @property
    def parent_ref(self) -> ParentRef | None:
        return ParentRef.parse(self.parent) if self.parent else None


@dataclass(frozen=True, slots=True)
class AttachRefusal:
    """Why `VolumeRepo.try_attach` lost: the volume is held by `holder`, or is not ready."""

    state: str
    holder: int | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    volume_uuid: str
    vm_id: int
    device: str | None = None  # vdb, vdc... as the hypervisor reported it
    readonly: bool = False
    attached_at: datetime | None = None


# --- quotas ---------------------------------------------------------------------------------


class SubjectKind(StrEnum):
    USER = "user"
    GROUP = "group"


@dataclass(frozen=True, slots=True)
class QuotaSubject:
    kind: SubjectKind
    name: str

    def __str__(self) -> str:
        return f"{self.kind.value} {self.name}"


@dataclass(frozen=True, slots=True)
class StorageQuota:
    """Limits for one user or group; None means unlimited."""

    max_volumes: int | None = None
    max_gb: int | None = None


@dataclass(frozen=True, slots=True)
class StorageUsage:
    volumes: int = 0
    gb: int = 0


@dataclass(frozen=True, slots=True)
class UsageDelta:
    volumes: int
    gb: int


# --- listing filters ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GlobPattern:
    """A user's filter pattern, compiled: characters, `*` (None) and `?` (`ones`), anchors.
    Never a regular expression (services/storage/filters.py says why)."""

    text: str
    tokens: tuple[str | None, ...]
    ones: tuple[bool, ...]
    start: bool = False
    end: bool = False


@dataclass(frozen=True, slots=True)
class VolumeFilter:
    """One `key:pattern` term (pdisk's `describe-volumes -f`); terms are AND-combined and each
    pattern is a glob matched against the field's text."""

    key: str
    pattern: GlobPattern

    def __str__(self) -> str:
        return f"{self.key}:{self.pattern.text}"


# --- errors ---------------------------------------------------------------------------------


class VolumeNotFound(NotFound):
    """Also raised for another user's private volume, so existence does not leak (404)."""

    def __init__(self, uuid: str) -> None:
        super().__init__("volume", uuid, listing="stratus describe-volumes")


class VolumeAttached(Conflict):
    template = "volume {uuid} is attached to VM {vm_id}"
    hint_template = "detach it first: stratus detach-volume -i {vm_id} {uuid}"

    def __init__(self, uuid: str, vm_id: int) -> None:
        super().__init__(uuid=uuid, vm_id=vm_id)


class VolumeHasChildren(Conflict):
    template = "volume {uuid} has {count} copy-on-write children ({first}...)"
    hint_template = "delete them first: stratus delete-volume {first}"

    def __init__(self, uuid: str, children: list[str]) -> None:
        super().__init__(uuid=uuid, count=len(children), first=children[0])


class VolumeStateError(InvalidState):
    def __init__(self, uuid: str, state: str, action: str, allowed: str, hint: str) -> None:
        super().__init__(
            what="volume", name=uuid, state=state, action=action, allowed=allowed, hint=hint
        )


class StorageQuotaExceeded(QuotaExceeded):
    template = (
        "storage quota of {subject} exceeded by volume {uuid} "
        "(quota: {limit} {unit}, used: {used}, requested: {requested})"
    )
    hint_template = "delete volumes you no longer need (stratus delete-volume UUID) or ask an admin"


# --- ports ----------------------------------------------------------------------------------


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

    name: str

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


def iqn_for(uuid: str) -> str:
    return f"{IQN_PREFIX}:{uuid}"


# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateVolume:
    """`stratus create-volume -s GB [-t TAG] [--public] [--cow UUID]` and the internal requests
    for a VM's root and volatile disks."""

    size_gb: int
    tag: str = ""
    visibility: str = Visibility.PRIVATE.value
    pool: str | None = None  # None: the default pool
    parent_volume: str | None = None  # --cow UUID: copy-on-write child of that volume
    parent_image: ImageParent | None = None  # copy-on-write child of a cached image
    readonly: bool = False
    kind: str = VolumeKind.PERSISTENT.value
    vm_id: int | None = None  # owner VM of root / volatile volumes


@dataclass(frozen=True, slots=True)
class ImageParent:
    """A cached image a root volume grows from (the image service resolved and checked it)."""

    image_id: int
    path: str
    format: str


@dataclass(frozen=True, slots=True)
class UpdateVolume:
    tag: str | None = None
    visibility: str | None = None
    readonly: bool | None = None


@dataclass(frozen=True, slots=True)
class AttachPlan:
    """What the hypervisor needs to hot-plug (or boot with) a volume, once the attachment is
    recorded: the source QEMU opens, its format and whether the guest may write."""

    volume_uuid: str
    vm_id: int
    source: str
    format: str
    readonly: bool

    @property
    def disk_name(self) -> str:
        return disk_name_for(self.volume_uuid)


def disk_name_for(uuid: str) -> str:
    """The `DiskSpec.name` of a volume inside a VM: `vol-` and the first 16 hex digits of its
    UUID (64 bits: unique within a VM), short enough for hypervisor ids (QEMU node names are
    limited to 31 characters)."""
    return "vol-" + uuid.replace("-", "")[:16]
