"""The `libvirt` hypervisor driver: each VM a transient libvirt domain on the node's libvirtd.

With no `uri` the driver runs the node's own libvirtd (`daemon.ManagedLibvirtd`, inside the
data-plane namespace when there is one, so its QEMUs open the network driver's taps); with a
`uri` (e.g. `qemu:///system`) it uses a libvirtd the site runs.  Libvirt knows running domains
only, so what the driver knows of each VM (state, reason, instance directory, hot-plugged disks)
is also kept on disk (`records`): a new driver instance after a restart finds running,
suspended and powered-off VMs.  Domain lifecycle events are handled on a worker thread of the
driver (never in libvirt's event loop) and reach the event sink unless the driver caused them.

Imports only the standard library, `libvirt`, `core` and its own modules.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import libvirt

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
from stratuslab.drivers.hypervisor.libvirt import domxml, hotplug
from stratuslab.drivers.hypervisor.libvirt import records as rec
from stratuslab.drivers.hypervisor.libvirt.daemon import ManagedLibvirtd
from stratuslab.drivers.hypervisor.libvirt.events import ensure_event_loop

_OBSERVED = {
    rec.RUNNING: ObservedState.RUNNING,
    rec.SUSPENDED: ObservedState.SUSPENDED,
    rec.SHUTOFF: ObservedState.SHUTOFF,
    rec.CRASHED: ObservedState.CRASHED,
}
_STOPPED_MEANING = {
    libvirt.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN: (ObservedState.SHUTOFF, "the guest powered itself off"),
    libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED: (
        ObservedState.SHUTOFF, "the domain was destroyed on the host, outside the cloud"),
    libvirt.VIR_DOMAIN_EVENT_STOPPED_CRASHED: (ObservedState.CRASHED, "the guest crashed"),
    libvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED: (ObservedState.CRASHED, "QEMU died unexpectedly"),
}
ACPI_REPEAT = 3.0  # a guest still booting ignores the first power button press


class LibvirtHypervisor(Hypervisor):
    name: ClassVar[str] = "libvirt"
    capabilities: ClassVar[HypervisorCaps] = HypervisorCaps(
        graceful_shutdown=True, suspend=True, reboot=True, hotplug_disk=True, hotplug_nic=True,
        real_guests=True,
    )

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        *,
        host: str = "localhost",
        uri: str = "",
        machine: str = "pc",
        netns: str | None = None,
        domain_prefix: str = "stratuslab-",
        domain_type: str = "qemu",
    ) -> None:
        super().__init__()
        if machine not in domxml.MACHINES:
            raise DriverError(f"machine {machine!r} is not supported by the libvirt driver; "
                              f"use one of {domxml.MACHINES}")
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.machine = machine
        self.prefix = domain_prefix
        self.domain_type = domain_type
        self.records = rec.Records(self.run_dir)
        self.daemon: ManagedLibvirtd | None = None
        if not uri:
            self.daemon = ManagedLibvirtd(self.run_dir / "libvirtd", netns=netns)
            uri = self.daemon.ensure_running()
        elif netns:
            raise DriverError(
                f"the libvirt driver cannot use {uri} for guests whose taps live in namespace "
                f"{netns}", hint="leave [libvirt] uri empty: the node then runs its own libvirtd "
                "inside the data-plane namespace")
        self.uri = uri
        ensure_event_loop()
        try:
            self.conn = libvirt.open(uri)
        except libvirt.libvirtError as exc:
            raise DriverError(f"cannot connect to libvirt at {uri}: {exc}",
                              hint="check that libvirtd runs and the URI is right") from exc
        self._guard = threading.Lock()
        self._vm_locks: dict[int, threading.RLock] = {}
        self._events: queue.Queue[tuple[int, int] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._handle_events, name="libvirt-vm-events",
                                        daemon=True)
        self._worker.start()
        self._callback = self.conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_event, None)

    # -- bookkeeping -----------------------------------------------------------------------
    def _lock(self, vm_id: int) -> threading.RLock:
        with self._guard:
            return self._vm_locks.setdefault(vm_id, threading.RLock())

    def domain_name(self, vm_id: int) -> str:
        return f"{self.prefix}{int(vm_id)}"

    def _vm_id(self, domain_name: str) -> int | None:
        tail = domain_name[len(self.prefix):]
        return int(tail) if domain_name.startswith(self.prefix) and tail.isdigit() else None

    def _domain(self, vm_id: int) -> Any:
        try:
            return self.conn.lookupByName(self.domain_name(vm_id))
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise DriverError(f"VM {vm_id}: libvirt failed: {exc}") from exc

    def _active(self, vm_id: int) -> bool:
        """Whether the VM's domain runs.  Only libvirt's own "no such domain" means no: any
        other failure raises, so that a hiccup of libvirtd never turns into a crashed VM."""
        dom = self._domain(vm_id)
        if dom is None:
            return False
        try:
            return bool(dom.isActive())
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return False  # a transient domain that ended between the two calls
            raise DriverError(f"VM {vm_id}: libvirt failed: {exc}") from exc

    def _handle(self, vm_id: int, instance_dir: str) -> VmHandle:
        return VmHandle(vm_id, self.host, {
            "driver": self.name,
            "domain": self.domain_name(vm_id),
            "instance_dir": instance_dir,
            "console_log": os.path.join(instance_dir, domxml.CONSOLE_LOG),
            "agent_socket": os.path.join(instance_dir, domxml.AGENT_SOCK),
        })

    def _save_file(self, record: dict[str, Any]) -> Path:
        return Path(str(record["instance_dir"])) / rec.SAVE_FILE

    def _running(self, handle: VmHandle, action: str) -> tuple[dict[str, Any], Any]:
        record = self.records.read(handle.vm_id)
        if record is None:
            raise DriverError(f"VM {handle.vm_id} is not known to the libvirt driver on "
                              f"{self.host}; cannot {action}")
        dom = self._domain(handle.vm_id)
        if record.get("state") != rec.RUNNING or dom is None or not self._active(handle.vm_id):
            state = self._observe(handle.vm_id, record).state
            raise DriverError(f"VM {handle.vm_id} is {state}; cannot {action} "
                              "(allowed from: running)")
        return record, dom

    def _observe(self, vm_id: int, record: dict[str, Any]) -> Observation:
        state = record.get("state", rec.CRASHED)
        if state in (rec.RUNNING, rec.STOPPING, rec.SUSPENDING):
            if self._active(vm_id):
                return Observation(vm_id, ObservedState.RUNNING)
            if state == rec.SUSPENDING and self._save_file(record).exists():
                return Observation(vm_id, ObservedState.SUSPENDED)
            if state == rec.RUNNING:
                reason = "the domain ended while the driver was not watching"
                self.records.update(vm_id, state=rec.CRASHED, reason=reason)
                return Observation(vm_id, ObservedState.CRASHED, reason)
            return Observation(vm_id, ObservedState.SHUTOFF, "interrupted while stopping")
        return Observation(vm_id, _OBSERVED.get(state, ObservedState.CRASHED),
                           str(record.get("reason", "")))

    # -- events ----------------------------------------------------------------------------
    def _on_event(self, _conn: Any, dom: Any, event: int, detail: int, _opaque: Any) -> None:
        """In libvirt's event loop: hand the event to the driver's own thread at once."""
        if event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
            vm_id = self._vm_id(dom.name())
            if vm_id is not None:
                self._events.put((vm_id, detail))

    def _handle_events(self) -> None:
        while (item := self._events.get()) is not None:
            vm_id, detail = item
            with self._lock(vm_id):
                record = self.records.read(vm_id)
                if record is None or record.get("state") != rec.RUNNING or self._active(vm_id):
                    continue  # forgotten, stopped by us (the caller knows), or running again
                state, reason = _STOPPED_MEANING.get(
                    detail, (ObservedState.CRASHED, f"libvirt stopped the domain (detail {detail})"))
                self.records.update(vm_id, state=state.value, reason=reason)
            self._emit(Observation(vm_id, state, reason))

    # -- the contract ----------------------------------------------------------------------
    def start(self, spec: VmSpec) -> VmHandle:
        with self._lock(spec.vm_id):
            record = self.records.read(spec.vm_id)
            if record and record.get("state") == rec.SUSPENDED:
                return self.resume(self._handle(spec.vm_id, spec.instance_dir), spec)
            if self._active(spec.vm_id):  # running (also: started before a crash of ours)
                if record is None or record.get("state") != rec.RUNNING:
                    self.records.write(spec.vm_id, self._fresh(spec))
                return self._handle(spec.vm_id, spec.instance_dir)
            xml = domxml.domain_xml(spec, name=self.domain_name(spec.vm_id),
                                    machine=self.machine, domain_type=self.domain_type)
            # the intent is on disk before the domain exists: a crash here leaves no orphan
            self.records.write(spec.vm_id, self._fresh(spec))
            try:
                self.conn.createXML(xml, 0)
            except libvirt.libvirtError as exc:
                self.records.forget(spec.vm_id)
                raise DriverError(f"VM {spec.vm_id} ({spec.name}) did not start: {exc}",
                                  hint="see the error text from libvirt/QEMU above") from exc
            return self._handle(spec.vm_id, spec.instance_dir)

    def _fresh(self, spec: VmSpec) -> dict[str, Any]:
        return {"vm_id": spec.vm_id, "name": spec.name, "state": rec.RUNNING, "reason": "",
                "instance_dir": os.path.abspath(spec.instance_dir),
                "targets": domxml.targets_of(spec, self.machine)}

    def _stop(self, vm_id: int, *, graceful: float) -> str:
        dom = self._domain(vm_id)
        if dom is None or not self._active(vm_id):
            return "already stopped"
        self.records.update(vm_id, state=rec.STOPPING)
        deadline = time.monotonic() + graceful
        pressed = 0.0
        while graceful > 0 and time.monotonic() < deadline and self._active(vm_id):
            if time.monotonic() - pressed >= ACPI_REPEAT:
                try:
                    dom.shutdown()
                except libvirt.libvirtError:
                    pass  # it may be going away already
                pressed = time.monotonic()
            time.sleep(0.1)
        if not self._active(vm_id):
            return "ACPI power-off" if graceful > 0 else "already stopped"
        try:
            dom.destroy()
        except libvirt.libvirtError as exc:
            if self._active(vm_id):
                raise DriverError(f"VM {vm_id}: libvirt could not stop it: {exc}") from exc
        return "forced off" if graceful > 0 else "killed"

    def shutdown(self, handle: VmHandle, timeout: float) -> None:
        with self._lock(handle.vm_id):
            record = self.records.read(handle.vm_id)
            if record is None:
                return
            how = self._stop(handle.vm_id, graceful=max(timeout, 0.1))
            self._save_file(record).unlink(missing_ok=True)  # a suspended VM's memory
            self.records.update(handle.vm_id, state=rec.SHUTOFF, reason=f"stopped by the cloud ({how})")

    def kill(self, handle: VmHandle) -> None:
        with self._lock(handle.vm_id):
            record = self.records.read(handle.vm_id)
            self._stop(handle.vm_id, graceful=0)
            if record is not None:
                self._save_file(record).unlink(missing_ok=True)
            self.records.forget(handle.vm_id)

    def reboot(self, handle: VmHandle) -> None:
        with self._lock(handle.vm_id):
            _, dom = self._running(handle, "reboot")
            try:
                dom.reset(0)
            except libvirt.libvirtError as exc:
                raise DriverError(f"VM {handle.vm_id}: libvirt could not reset it: {exc}") from exc

    def suspend(self, handle: VmHandle) -> VmHandle:
        with self._lock(handle.vm_id):
            record = self.records.read(handle.vm_id)
            if record and record.get("state") == rec.SUSPENDED:
                return handle
            record, dom = self._running(handle, "suspend")
            self.records.update(handle.vm_id, state=rec.SUSPENDING)
            try:
                dom.save(str(self._save_file(record)))
            except libvirt.libvirtError as exc:
                self.records.update(handle.vm_id, state=rec.RUNNING)
                raise DriverError(f"VM {handle.vm_id}: libvirt could not save it: {exc}") from exc
            self.records.update(handle.vm_id, state=rec.SUSPENDED,
                                reason="suspended by the cloud: memory saved to " + rec.SAVE_FILE)
            return self._handle(handle.vm_id, str(record["instance_dir"]))

    def resume(self, handle: VmHandle, spec: VmSpec) -> VmHandle:
        with self._lock(spec.vm_id):
            record = self.records.read(spec.vm_id)
            if record and record.get("state") == rec.RUNNING and self._active(spec.vm_id):
                return self._handle(spec.vm_id, str(record["instance_dir"]))
            if not (record and record.get("state") == rec.SUSPENDED
                    and self._save_file(record).exists()):
                if record:
                    self.records.update(spec.vm_id, state=rec.SHUTOFF)
                return self.start(spec)  # powered off (or state lost): boot afresh
            saved = self._save_file(record)
            self.records.update(spec.vm_id, state=rec.RUNNING, reason="")
            try:
                self.conn.restore(str(saved))
            except libvirt.libvirtError as exc:
                self.records.update(spec.vm_id, state=rec.SUSPENDED)
                raise DriverError(f"VM {spec.vm_id}: libvirt could not restore it: {exc}",
                                  hint="the saved state is kept; retry or kill the VM") from exc
            saved.unlink(missing_ok=True)
            return self._handle(spec.vm_id, str(record["instance_dir"]))

    def status(self, handle: VmHandle) -> Observation:
        record = self.records.read(handle.vm_id)
        if record is None:
            return Observation(handle.vm_id, ObservedState.MISSING)
        return self._observe(handle.vm_id, record)

    def list_vms(self) -> list[Observation]:
        out = []
        for vm_id in self.records.vm_ids():
            record = self.records.read(vm_id)
            if record is None:
                continue
            if not Path(str(record.get("instance_dir", ""))).is_dir() and not self._active(vm_id):
                self.records.forget(vm_id)  # its directory went to quarantine or was deleted
                continue
            out.append(self._observe(vm_id, record))
        return out

    def console_log(self, handle: VmHandle) -> bytes:
        record = self.records.read(handle.vm_id)
        instance = (record or {}).get("instance_dir") or handle.data.get("instance_dir")
        if not instance:
            return b""
        try:
            return (Path(str(instance)) / domxml.CONSOLE_LOG).read_bytes()
        except FileNotFoundError:
            return b""

    # -- hot-plug (the device XML and libvirt calls are in `hotplug`) -----------------------
    def attach_disk(self, handle: VmHandle, disk: DiskSpec) -> str:
        with self._lock(handle.vm_id):
            record, dom = self._running(handle, "attach a disk")
            targets: dict[str, str] = dict(record.get("targets", {}))
            if disk.name not in targets:
                targets[disk.name] = hotplug.plug_disk(dom, disk, set(targets.values()), self.machine)
                self.records.update(handle.vm_id, targets=targets)
            return targets[disk.name]

    def detach_disk(self, handle: VmHandle, disk_name: str) -> None:
        with self._lock(handle.vm_id):
            record, dom = self._running(handle, "detach a disk")
            targets: dict[str, str] = dict(record.get("targets", {}))
            dev = targets.pop(disk_name, None)
            if dev is not None:
                hotplug.unplug_disk(dom, dev, disk_name)
                self.records.update(handle.vm_id, targets=targets)

    def attach_nic(self, handle: VmHandle, nic: NicSpec) -> str:
        with self._lock(handle.vm_id):
            _, dom = self._running(handle, "attach a NIC")
            return hotplug.plug_nic(dom, nic)

    def detach_nic(self, handle: VmHandle, mac: str) -> None:
        with self._lock(handle.vm_id):
            _, dom = self._running(handle, "detach a NIC")
            hotplug.unplug_nic(dom, mac)

    def close(self) -> None:
        """Stop handling events (VMs keep running)."""
        try:
            self.conn.domainEventDeregisterAny(self._callback)
        except libvirt.libvirtError:
            pass
        self._events.put(None)
        if self._worker is not threading.current_thread():
            self._worker.join(timeout=5)
        # the connection stays open: calls still work (VMs keep running), events stop
