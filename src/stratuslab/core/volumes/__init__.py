"""Persistent volumes: entities, value objects, errors and the ports that services use.

A volume is a block device with a life of its own (StratusLab's "pdisk"): persistent volumes
made by users, the copy-on-write root volume of a VM, and volatile scratch disks that live and
die with their VM.  Two ports:

- `VolumeBackendPort`: where the bytes live (a directory of qcow2 files, tgt iSCSI LUNs, a
  simulation).  Backend locations never leave the storage side: services store them opaquely and
  hand them back to the same backend.
- `VolumeRepo` / `StorageQuotaRepo`: the records.  Attaching is a compare-and-swap on the volume
  row so that two concurrent attaches of a writable volume cannot both win.

The package: `model` (entities, value objects), `errors`, `ports`, `commands`; every name
is re-exported here.  Only the standard library.
"""

from __future__ import annotations

from stratuslab.core.volumes.commands import (
    AttachPlan,
    CreateVolume,
    ImageParent,
    UpdateVolume,
    disk_name_for,
)
from stratuslab.core.volumes.errors import (
    StorageQuotaExceeded,
    VolumeAttached,
    VolumeHasChildren,
    VolumeNotFound,
    VolumeStateError,
)
from stratuslab.core.volumes.model import (
    IQN_PREFIX,
    MAX_SIZE_GB,
    MAX_TAG_LENGTH,
    MIN_SIZE_GB,
    UUID_RE,
    Attachment,
    AttachRefusal,
    GlobPattern,
    ParentKind,
    ParentRef,
    QuotaSubject,
    StorageQuota,
    StorageUsage,
    SubjectKind,
    UsageDelta,
    Visibility,
    Volume,
    VolumeFilter,
    VolumeKind,
    VolumeState,
    iqn_for,
)
from stratuslab.core.volumes.ports import (
    BackendCaps,
    BackendVolume,
    ParentFile,
    StorageQuotaRepo,
    VolumeBackendPort,
    VolumeRepo,
)

__all__ = [
    "AttachPlan",
    "AttachRefusal",
    "Attachment",
    "BackendCaps",
    "BackendVolume",
    "CreateVolume",
    "GlobPattern",
    "IQN_PREFIX",
    "ImageParent",
    "MAX_SIZE_GB",
    "MAX_TAG_LENGTH",
    "MIN_SIZE_GB",
    "ParentFile",
    "ParentKind",
    "ParentRef",
    "QuotaSubject",
    "StorageQuota",
    "StorageQuotaExceeded",
    "StorageQuotaRepo",
    "StorageUsage",
    "SubjectKind",
    "UUID_RE",
    "UpdateVolume",
    "UsageDelta",
    "Visibility",
    "Volume",
    "VolumeAttached",
    "VolumeBackendPort",
    "VolumeFilter",
    "VolumeHasChildren",
    "VolumeKind",
    "VolumeNotFound",
    "VolumeRepo",
    "VolumeState",
    "VolumeStateError",
    "disk_name_for",
    "iqn_for",
]
