"""The simulated hypervisor: product code for scale tests and demos, never a real guest.

VM state is kept on disk (one JSON file per VM in `state_dir`) so it survives a restart of the
server exactly as a real node's VMs do.  A configurable boot delay and failure injection
(`fail = {"start": "message"}`, or `spec.extra["simulate_failure"] = "start"`) exercise the job
runner's error paths.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from stratuslab.core.errors import DriverError
from stratuslab.core.hypervisor import (
    DiskSpec,
    HypervisorCaps,
    NicSpec,
    Observation,
    ObservedState,
    VmHandle,
    VmSpec,
)
from stratuslab.drivers.hypervisor.base import Hypervisor


class SimulatedHypervisor(Hypervisor):
    name: ClassVar[str] = "simulated"
    capabilities: ClassVar[HypervisorCaps] = HypervisorCaps(
        graceful_shutdown=True, suspend=True, reboot=True, hotplug_disk=True, hotplug_nic=True,
        real_guests=False,
    )

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        *,
        host: str = "localhost",
        boot_delay: float = 0.0,
        fail: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.boot_delay = boot_delay
        self.fail = dict(fail or {})
        self._lock = threading.Lock()

    # -- on-disk state -------------------------------------------------------------------
    def _path(self, vm_id: int) -> Path:
        return self.state_dir / f"vm-{vm_id}.json"

    def _load(self, vm_id: int) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self._path(vm_id).read_text())
            return data
        except FileNotFoundError:
            return None

    def _save(self, vm_id: int, data: dict[str, Any]) -> None:
        tmp = self._path(vm_id).with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self._path(vm_id))

    def _set(self, vm_id: int, state: ObservedState, **more: Any) -> None:
        with self._lock:
            data = self._load(vm_id) or {"vm_id": vm_id, "console": []}
            data["state"] = state.value
            data.update(more)
            data["console"] = [*data.get("console", []), f"{time.time():.3f} {state.value}"][-200:]
            self._save(vm_id, data)

    def _maybe_fail(self, action: str, extra: Mapping[str, Any] | None = None) -> None:
        if extra and extra.get("simulate_failure") == action:
            raise DriverError(f"simulated {action} failure (injected by the VM's spec)")
        if action in self.fail:
            raise DriverError(self.fail[action])

    def _require(self, handle: VmHandle) -> dict[str, Any]:
        data = self._load(handle.vm_id)
        if data is None:
            raise DriverError(f"VM {handle.vm_id} is not known to the simulated hypervisor")
        return data

    # -- the contract --------------------------------------------------------------------
    def start(self, spec: VmSpec) -> VmHandle:
        self._maybe_fail("start", spec.extra)
        for disk in spec.disks:
            if disk.kind == "disk" and "://" not in disk.source and not Path(disk.source).exists():
                raise DriverError(f"disk {disk.name}: {disk.source} does not exist")
        if self.boot_delay:
            time.sleep(self.boot_delay)
        self._set(
            spec.vm_id, ObservedState.RUNNING, name=spec.name, disks=[d.name for d in spec.disks],
            nics=[n.mac for n in spec.nics],
        )
        return VmHandle(spec.vm_id, self.host, {"driver": self.name})

    def shutdown(self, handle: VmHandle, timeout: float) -> None:
        self._maybe_fail("shutdown")
        if self._load(handle.vm_id) is not None:
            self._set(handle.vm_id, ObservedState.SHUTOFF)

    def kill(self, handle: VmHandle) -> None:
        self._maybe_fail("kill")
        with self._lock:
            self._path(handle.vm_id).unlink(missing_ok=True)

    def reboot(self, handle: VmHandle) -> None:
        self._maybe_fail("reboot")
        self._require(handle)
        self._set(handle.vm_id, ObservedState.RUNNING)

    def suspend(self, handle: VmHandle) -> VmHandle:
        self._maybe_fail("suspend")
        self._require(handle)
        self._set(handle.vm_id, ObservedState.SUSPENDED)
        return handle

    def resume(self, handle: VmHandle, spec: VmSpec) -> VmHandle:
        self._maybe_fail("resume", spec.extra)
        if self._load(handle.vm_id) is None:
            return self.start(spec)
        self._set(handle.vm_id, ObservedState.RUNNING)
        return handle

    def status(self, handle: VmHandle) -> Observation:
        data = self._load(handle.vm_id)
        if data is None:
            return Observation(handle.vm_id, ObservedState.MISSING)
        return Observation(handle.vm_id, ObservedState(data["state"]))

    def list_vms(self) -> list[Observation]:
        out = []
        for path in sorted(self.state_dir.glob("vm-*.json")):
            data = json.loads(path.read_text())
            out.append(Observation(int(data["vm_id"]), ObservedState(data["state"])))
        return out

    def console_log(self, handle: VmHandle) -> bytes:
        data = self._require(handle)
        return ("\n".join(data.get("console", [])) + "\n").encode()

    def attach_disk(self, handle: VmHandle, disk: DiskSpec) -> str:
        data = self._require(handle)
        disks = [*data.get("disks", []), disk.name]
        self._set(handle.vm_id, ObservedState(data["state"]), disks=disks)
        return f"vd{chr(ord('a') + len(disks) - 1)}"

    def detach_disk(self, handle: VmHandle, disk_name: str) -> None:
        data = self._require(handle)
        disks = [d for d in data.get("disks", []) if d != disk_name]
        self._set(handle.vm_id, ObservedState(data["state"]), disks=disks)

    def attach_nic(self, handle: VmHandle, nic: NicSpec) -> str:
        self._maybe_fail("attach_nic")
        data = self._require(handle)
        nics = list(data.get("nics", []))
        if nic.mac not in nics:
            nics.append(nic.mac)
            self._set(handle.vm_id, ObservedState(data["state"]), nics=nics)
        return f"nic{nics.index(nic.mac)}"

    def detach_nic(self, handle: VmHandle, mac: str) -> None:
        self._maybe_fail("detach_nic")
        data = self._load(handle.vm_id)
        if data is not None and mac in data.get("nics", []):
            nics = [m for m in data["nics"] if m != mac]
            self._set(handle.vm_id, ObservedState(data["state"]), nics=nics)

    def nics(self, vm_id: int) -> list[str]:
        """The MACs of the VM's NICs (for tests)."""
        return list((self._load(vm_id) or {}).get("nics", []))

    # -- for tests and demos -------------------------------------------------------------
    def simulate_guest_poweroff(self, vm_id: int) -> None:
        """What a guest's own `poweroff` looks like to the cloud."""
        self._set(vm_id, ObservedState.SHUTOFF)
        self._emit(Observation(vm_id, ObservedState.SHUTOFF, "guest powered off"))

    def simulate_crash(self, vm_id: int) -> None:
        self._set(vm_id, ObservedState.CRASHED)
        self._emit(Observation(vm_id, ObservedState.CRASHED, "simulated crash"))
