"""The hypervisor driver contract.

Rules every driver follows (the contract suite in tests/contract checks them):
- backend ids never leave the driver: callers hold a `VmHandle` whose `data` only the driver reads;
- every method is idempotent: killing a dead VM or starting a VM that already runs is not an error;
- a failed `start` cleans up after itself and raises `DriverError` with the backend's own message;
- VM death and guest-initiated shutdown are reported to the event sink as an `Observation`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from stratuslab.core.errors import DriverError
from stratuslab.core.hypervisor import (
    DiskSpec,
    EventSink,
    HypervisorCaps,
    NicSpec,
    Observation,
    VmHandle,
    VmSpec,
)


class Hypervisor(ABC):
    name: ClassVar[str]
    capabilities: ClassVar[HypervisorCaps]

    def __init__(self) -> None:
        self._sink: EventSink | None = None

    def set_event_sink(self, sink: EventSink | None) -> None:
        self._sink = sink

    def _emit(self, observation: Observation) -> None:
        if self._sink is not None:
            self._sink(observation)

    @abstractmethod
    def start(self, spec: VmSpec) -> VmHandle:
        """Boot the VM; return once the hypervisor runs it (not when the guest is ready)."""

    @abstractmethod
    def shutdown(self, handle: VmHandle, timeout: float) -> None:
        """Ask the guest to power off (ACPI); after `timeout` seconds stop it hard."""

    @abstractmethod
    def kill(self, handle: VmHandle) -> None:
        """Stop the VM at once, without guest involvement.  Idempotent."""

    def poweroff(self, handle: VmHandle, timeout: float) -> None:
        self.shutdown(handle, timeout)

    @abstractmethod
    def reboot(self, handle: VmHandle) -> None: ...

    @abstractmethod
    def suspend(self, handle: VmHandle) -> VmHandle:
        """Save the memory state to a file and stop the process; the VM can be resumed later."""

    @abstractmethod
    def resume(self, handle: VmHandle, spec: VmSpec) -> VmHandle:
        """Restart a suspended VM from its saved state (or boot a powered-off one)."""

    @abstractmethod
    def status(self, handle: VmHandle) -> Observation: ...

    @abstractmethod
    def list_vms(self) -> list[Observation]:
        """Every VM this driver runs or keeps suspended on this node."""

    @abstractmethod
    def console_log(self, handle: VmHandle) -> bytes: ...

    def attach_disk(self, handle: VmHandle, disk: DiskSpec) -> str:
        """Hot-plug a disk; return the device name the guest sees."""
        raise DriverError(f"the {self.name} hypervisor cannot hot-plug disks")

    def detach_disk(self, handle: VmHandle, disk_name: str) -> None:
        raise DriverError(f"the {self.name} hypervisor cannot hot-unplug disks")

    def attach_nic(self, handle: VmHandle, nic: NicSpec) -> str:
        """Hot-plug a NIC (its tap made by the network driver); return its device id."""
        raise DriverError(f"the {self.name} hypervisor cannot hot-plug NICs")

    def detach_nic(self, handle: VmHandle, mac: str) -> None:
        """Hot-unplug the NIC with this MAC.  Idempotent."""
        raise DriverError(f"the {self.name} hypervisor cannot hot-plug NICs")

    def close(self) -> None:
        """Release watchers and threads (VMs keep running)."""
