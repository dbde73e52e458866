"""Entities of the cloud: users, groups, images, instance types, VMs, jobs and VM events.

Plain dataclasses; persistence maps them column by column (same names).  Only the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from stratuslab.core.context import current_request_id
from stratuslab.core.states import VmState
from stratuslab.core.vmspec import InstanceSpec


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"
    CLOUD_ACCESS = "cloud-access"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: the result of authentication."""

    user: str
    user_id: int
    groups: tuple[str, ...] = ()
    roles: frozenset[str] = frozenset()
    method: str = "password"
    #: authenticated with a limited proxy: may read and manage, never start VMs (grid rule)
    limited: bool = False

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles


@dataclass(slots=True)
class User:
    id: int | None
    name: str
    password_hash: str | None
    groups: list[str] = field(default_factory=list)  # first one is the primary group
    roles: list[str] = field(default_factory=lambda: [Role.USER.value])
    enabled: bool = True
    dn: str | None = None  # certificate subject mapped to this user
    created_at: datetime | None = None
    template: str | None = None  # free-form attributes (OpenNebula user TEMPLATE)

    @property
    def primary_group(self) -> str:
        return self.groups[0] if self.groups else "users"


@dataclass(slots=True)
class Group:
    id: int | None
    name: str
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InstanceType:
    name: str
    cpu: int
    ram_mib: int
    swap_mib: int = 0


#: StratusLab's instance types (since 13.02): name -> (CPU, RAM MiB, swap MiB).
DEFAULT_INSTANCE_TYPES: tuple[InstanceType, ...] = (
    InstanceType("t1.micro", 1, 512, 512),
    InstanceType("m1.small", 1, 1536, 1536),
    InstanceType("m1.medium", 1, 3072, 3072),
    InstanceType("m1.large", 2, 6144, 6144),
    InstanceType("m1.xlarge", 4, 8192, 8192),
    InstanceType("c1.medium", 2, 1536, 1536),
    InstanceType("c1.xlarge", 4, 6144, 6144),
)
DEFAULT_INSTANCE_TYPE = "m1.small"


class ImageState(StrEnum):
    READY = "ready"
    DELETED = "deleted"
    DISABLED = "disabled"  # kept, but new VMs may not start from it
    IMPORTING = "importing"  # its URL is being downloaded by a job; not usable yet
    FAILED = "failed"  # the download job failed (the job's error says why); delete it


@dataclass(slots=True)
class Image:
    id: int | None
    name: str
    owner: str
    group: str
    path: str  # where the node's image cache holds the verified bytes
    format: str  # qcow2 | raw
    size_bytes: int
    sha1: str
    state: str = ImageState.READY.value
    public: bool = False
    source: str | None = None  # original path or URL
    kernel: str | None = None  # direct kernel boot (OpenNebula OS/KERNEL)
    initrd: str | None = None
    cmdline: str | None = None
    marketplace_id: str | None = None
    created_at: datetime | None = None
    inbound_ports: list[int] = field(default_factory=list)  # TCP ports its firewall opens
    template: str | None = None  # free-form attributes (OpenNebula image TEMPLATE)
    lock: int = 0  # OpenNebula lock level (services.policy.LOCK_LEVELS; 0 unlocked)


@dataclass(slots=True)
class Vm:
    id: int | None
    name: str
    owner: str
    group: str
    state: str
    image_id: int
    instance_type: str
    vcpu: int
    memory_mib: int
    swap_mib: int = 0
    disk_gb: int = 0  # root image (rounded up) + volatile disks: what the disk quota counts
    host: str | None = None
    ip: str | None = None
    ipv6: str | None = None
    mac: str | None = None
    error: str | None = None
    last_action: str | None = None
    #: everything the deploy needs that is not a column (typed and versioned: core/vmspec.py)
    spec: InstanceSpec = field(default_factory=InstanceSpec)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    #: owner/group/other rights (services.policy.Permissions); group and other see nothing
    permissions: str = "um-------"
    lock: int = 0  # OpenNebula lock level (services.policy.LOCK_LEVELS; 0 unlocked)

    @property
    def vm_state(self) -> VmState:
        return VmState(self.state)


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(slots=True)
class Job:
    id: int | None
    kind: str  # the VmAction (or other command) this job carries out
    owner: str
    state: str = JobState.QUEUED.value
    vm_id: int | None = None
    target_state: str | None = None
    step: str | None = None
    error: str | None = None
    attempts: int = 0
    runner: str | None = None
    heartbeat: datetime | None = None
    params: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    #: the request that asked for it (core.context); its runner logs under the same id
    request_id: str | None = field(default_factory=current_request_id)


@dataclass(slots=True)
class VmEvent:
    id: int | None
    vm_id: int
    at: datetime
    kind: str  # state | request | lease | firewall | driver-error | info
    actor: str
    message: str
    host: str | None = None
    ip: str | None = None
    mac: str | None = None
