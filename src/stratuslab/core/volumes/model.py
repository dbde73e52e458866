"""Volume entities and value objects: states, kinds, parents, attachments, quota counters and
listing filters.  Only the standard library."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

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
    format: str | None = None  # qcow2 | raw, recorded at creation and passed to every tool
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


def iqn_for(uuid: str) -> str:
    return f"{IQN_PREFIX}:{uuid}"
