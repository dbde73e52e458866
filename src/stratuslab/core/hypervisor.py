"""Value objects exchanged with hypervisor drivers, and the port services use to reach them.

Backend ids never leave the driver: services hold a `VmHandle`, whose `data` the driver alone
interprets.  Only the standard library.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class HypervisorCaps:
    graceful_shutdown: bool = True
    suspend: bool = True
    reboot: bool = True
    hotplug_disk: bool = False
    hotplug_nic: bool = False
    live_migration: bool = False
    real_guests: bool = False  # False for the simulated driver


@dataclass(frozen=True, slots=True)
class DiskSpec:
    """One block device of a VM, ready on the node (prolog made it)."""

    name: str  # stable id within the VM: root, swap, volatile-1, context, vol-<uuid>
    source: str  # a path on the node, or a URI (iscsi://...) the hypervisor understands
    format: str = "qcow2"  # qcow2 | raw
    kind: str = "disk"  # disk | cdrom
    readonly: bool = False
    target: str | None = None  # vda, vdb... (filled by the driver when None)
    auth: DiskAuth | None = None  # CHAP credentials of a network (iSCSI) source

    def __post_init__(self) -> None:
        if isinstance(self.auth, Mapping):  # read back from a stored spec (asdict)
            object.__setattr__(self, "auth", DiskAuth(**self.auth))


@dataclass(frozen=True, slots=True)
class DiskAuth:
    """Per-volume CHAP credentials: the storage side hands them to the node that attaches the
    volume, in the disk it asks that node to plug; never in a URI, a log line or an answer."""

    user: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class NicSpec:
    mac: str
    tap: str | None = None  # the network driver made it; None = no data plane
    netns: str | None = None  # namespace that holds the tap
    ip: str | None = None
    ipv6: str | None = None


@dataclass(frozen=True, slots=True)
class BootSpec:
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None


@dataclass(frozen=True, slots=True)
class VmSpec:
    vm_id: int
    name: str
    vcpu: int
    memory_mib: int
    instance_dir: str
    disks: tuple[DiskSpec, ...] = ()
    nics: tuple[NicSpec, ...] = ()
    boot: BootSpec = field(default_factory=BootSpec)
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VmHandle:
    vm_id: int
    host: str
    data: Mapping[str, Any] = field(default_factory=dict)


class ObservedState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    SUSPENDED = "suspended"  # memory saved to a file, no process
    SHUTOFF = "shutoff"  # process gone after a clean guest shutdown or our stop
    CRASHED = "crashed"  # process died unexpectedly
    MISSING = "missing"  # the driver knows nothing of this VM


@dataclass(frozen=True, slots=True)
class Observation:
    vm_id: int
    state: ObservedState
    reason: str = ""


EventSink = Callable[[Observation], None]


class HypervisorPort(Protocol):
    """What services need from a hypervisor driver (drivers/hypervisor/base.py implements it)."""

    @property
    def name(self) -> str:
        """The driver's registered name (a class attribute of the driver)."""
        ...

    @property
    def capabilities(self) -> HypervisorCaps: ...

    def start(self, spec: VmSpec) -> VmHandle: ...
    def shutdown(self, handle: VmHandle, timeout: float) -> None: ...
    def kill(self, handle: VmHandle) -> None: ...
    def poweroff(self, handle: VmHandle, timeout: float) -> None: ...
    def reboot(self, handle: VmHandle) -> None: ...
    def suspend(self, handle: VmHandle) -> VmHandle: ...
    def resume(self, handle: VmHandle, spec: VmSpec) -> VmHandle: ...
    def status(self, handle: VmHandle) -> Observation: ...
    def list_vms(self) -> list[Observation]: ...
    def console_log(self, handle: VmHandle) -> bytes: ...
    def attach_disk(self, handle: VmHandle, disk: DiskSpec) -> str: ...
    def detach_disk(self, handle: VmHandle, disk_name: str) -> None: ...
    def attach_nic(self, handle: VmHandle, nic: NicSpec) -> str: ...
    def detach_nic(self, handle: VmHandle, mac: str) -> None: ...
    def set_event_sink(self, sink: EventSink | None) -> None: ...
