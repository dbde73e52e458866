"""Volume commands (create, update) and the attach plan.  Only the standard library."""

from __future__ import annotations

from dataclasses import dataclass, field

from stratuslab.core.hypervisor import DiskAuth
from stratuslab.core.volumes.model import Visibility, VolumeKind


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
    auth: DiskAuth | None = field(default=None, repr=False)

    @property
    def disk_name(self) -> str:
        return disk_name_for(self.volume_uuid)


def disk_name_for(uuid: str) -> str:
    """The `DiskSpec.name` of a volume inside a VM: `vol-` and the first 16 hex digits of its
    UUID (64 bits: unique within a VM), short enough for hypervisor ids (QEMU node names are
    limited to 31 characters)."""
    return "vol-" + uuid.replace("-", "")[:16]
