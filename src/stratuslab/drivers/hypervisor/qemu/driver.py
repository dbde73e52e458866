"""The `qemu` hypervisor driver: real guests in qemu-system-x86_64 processes, one per VM.

QEMU is spawned directly (inside `ip netns exec NS` when the VM's taps live in a namespace),
runs in the VM's instance directory and is driven over QMP.  What the driver knows of a VM is on
disk (`layout`), so a new driver instance after a restart finds its running and suspended VMs,
and a watcher thread per running VM reports deaths and guest power-offs to the event sink.
Exits the driver causes itself (kill, shutdown, suspend) are not reported as events: the caller
learns their outcome from the call.

Imports only the standard library, `qemu.qmp`, `core`, `drivers._process` and its own modules.
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
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
from stratuslab.drivers._process import Process
from stratuslab.drivers.hypervisor.base import Hypervisor
from stratuslab.drivers.hypervisor.qemu import (
    cmdline,
    console,
    hotplug,
    layout,
    nichotplug,
    process,
    records,
    secrets,
    suspend,
)
from stratuslab.drivers.hypervisor.qemu.accel import AccelChooser
from stratuslab.drivers.hypervisor.qemu.qmp import QmpSession
from stratuslab.drivers.hypervisor.qemu.watcher import Exit, Watcher


class QemuHypervisor(Hypervisor):
    name: ClassVar[str] = "qemu"
    capabilities: ClassVar[HypervisorCaps] = HypervisorCaps(
        graceful_shutdown=True, suspend=True, reboot=True, hotplug_disk=True, hotplug_nic=True,
        real_guests=True
    )

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        *,
        host: str = "localhost",
        accel: str = "auto",
        machine: str = "pc",
        qemu_binary: str = "qemu-system-x86_64",
        netns: str | None = None,
        console_max_bytes: int = console.DEFAULT_MAX_BYTES,
    ) -> None:
        super().__init__()
        self.console_max_bytes = console_max_bytes
        if machine not in cmdline.MACHINES:
            raise DriverError(f"QEMU machine {machine!r} is not supported; use one of {cmdline.MACHINES}")
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.machine = machine
        self.qemu_binary = qemu_binary
        self.netns = netns
        self.accel = AccelChooser(accel, self.run_dir, qemu_binary)
        self.index = layout.RunIndex(self.run_dir)
        self._guard = threading.Lock()
        self._vm_locks: dict[int, threading.RLock] = {}
        self._procs: dict[int, Process] = {}
        self._watchers: dict[int, Watcher] = {}
        self._adopt()

    # -- bookkeeping -----------------------------------------------------------------------
    def _lock(self, vm_id: int) -> threading.RLock:
        with self._guard:
            return self._vm_locks.setdefault(vm_id, threading.RLock())

    def _handle(self, vm_id: int, instance: layout.InstanceDir) -> VmHandle:
        data = {
            "driver": self.name,
            "instance_dir": str(instance.path),
            "console_log": str(instance.file(layout.CONSOLE_LOG)),
            "agent_socket": str(instance.file(layout.AGENT_SOCK)),
        }
        return VmHandle(vm_id, self.host, data)

    def _instance(self, handle: VmHandle) -> layout.InstanceDir | None:
        found = self.index.lookup(handle.vm_id)
        if found is None and handle.data.get("instance_dir"):
            found = layout.InstanceDir(Path(str(handle.data["instance_dir"])))
        return found

    def _running(self, handle: VmHandle, action: str) -> tuple[layout.InstanceDir, dict[str, Any]]:
        instance = self.index.lookup(handle.vm_id)
        record = instance.read_record() if instance else None
        if instance is None or record is None:
            raise DriverError(f"VM {handle.vm_id} is not known to the qemu driver on {self.host}; "
                              f"cannot {action}")
        if record.get("state") != layout.RUNNING or not self._alive(instance, record):
            raise DriverError(
                f"VM {handle.vm_id} is {records.observe(handle.vm_id, instance).state}; "
                f"cannot {action} (allowed from: running)"
            )
        return instance, record

    @staticmethod
    def _alive(instance: layout.InstanceDir, record: dict[str, Any]) -> bool:
        return layout.qemu_pid_alive(record.get("pid"), instance.path)

    def _netns_for(self, spec: VmSpec) -> str | None:
        spaces = {nic.netns for nic in spec.nics if nic.netns}
        if len(spaces) > 1:
            raise DriverError(f"VM {spec.vm_id}: its NICs are in several namespaces {sorted(spaces)}")
        return spaces.pop() if spaces else self.netns

    # -- processes and watchers ------------------------------------------------------------
    def _session(self, vm_id: int, instance: layout.InstanceDir) -> QmpSession:
        return QmpSession(instance.file(layout.QMP_SOCK), vm=f"VM {vm_id}")

    def _launch(
        self, spec: VmSpec, argv: list[str], record: dict[str, Any], state: str = layout.RUNNING
    ) -> VmHandle:
        instance = layout.InstanceDir(Path(spec.instance_dir))
        vm = f"VM {spec.vm_id} ({spec.name})"
        netns = self._netns_for(spec)
        # intent first: a server killed between the spawn and the record finds this at start-up
        previous = instance.read_record()
        record.update(vm_id=spec.vm_id, name=spec.name, state=layout.STARTING, then=state,
                      reason="", pid=None, argv=argv, netns=netns)
        instance.path.mkdir(parents=True, exist_ok=True)
        instance.write_record(record)
        self.index.register(spec.vm_id, instance.path)
        secrets.write(instance, [*spec.disks, *(DiskSpec(**e["disk"]) for e in record.get("hotplug", []))])
        try:
            proc = process.launch(vm, instance, argv, netns=netns,
                                  logs=self.run_dir / "failed-logs")
        except DriverError:  # nothing runs: back to what was known before (or nothing at all)
            if previous is not None:
                instance.write_record(previous)
            else:
                instance.file(layout.RECORD).unlink(missing_ok=True)
                self.index.forget(spec.vm_id)
            raise
        pid = layout.read_pid(instance) or proc.pid
        record.update(state=state, pid=pid)
        instance.write_record(record)
        with self._guard:
            self._procs[spec.vm_id] = proc
        self._watch(spec.vm_id, instance, pid, proc)
        return self._handle(spec.vm_id, instance)

    def _watch(
        self, vm_id: int, instance: layout.InstanceDir, pid: int, proc: Process | None
    ) -> None:
        watcher = Watcher(vm_id, instance, pid, proc=proc, on_exit=self._on_exit,
                          console_max_bytes=self.console_max_bytes)
        with self._guard:
            old = self._watchers.pop(vm_id, None)
            self._watchers[vm_id] = watcher
        if old is not None:
            old.stop()
        watcher.start()

    def _on_exit(self, exit_: Exit) -> None:
        """Called by a watcher thread once the VM's QEMU is gone."""
        with self._guard:
            if self._watchers.get(exit_.vm_id) is threading.current_thread():
                del self._watchers[exit_.vm_id]
            self._procs.pop(exit_.vm_id, None)
        instance = self.index.lookup(exit_.vm_id)
        record = instance.read_record() if instance else None
        if instance is None or record is None or record.get("pid") != exit_.pid:
            return  # forgotten, or a newer QEMU of the same VM runs now
        if record.get("state") != layout.RUNNING:
            return  # we stopped it ourselves: the caller already knows
        state, reason = records.exit_meaning(exit_)
        instance.update_record(state=state.value, reason=reason, pid=None)
        instance.remove_runtime_files()
        self._emit(Observation(exit_.vm_id, state, reason))

    def _stop(
        self, vm_id: int, instance: layout.InstanceDir, *, graceful: float, then: str
    ) -> str:
        record = instance.read_record() or {}
        if record.get("state") == layout.RUNNING:
            instance.update_record(state=layout.STOPPING)
        with self._guard:
            proc = self._procs.pop(vm_id, None)
        how = process.stop(f"VM {vm_id}", instance, record.get("pid"), graceful=graceful, proc=proc)
        reason = (
            "suspended by the cloud: memory saved to " + layout.STATE_FILE
            if then == layout.SUSPENDED
            else f"stopped by the cloud ({how})"
        )
        instance.update_record(state=then, pid=None, reason=reason)
        return how

    def _adopt(self) -> None:
        """Find the VMs a previous driver instance left running and watch them again."""
        for vm_id in self.index.vm_ids():
            instance = self.index.lookup(vm_id)
            record = instance.read_record() if instance else None
            if instance is None or record is None:
                self.index.forget(vm_id)
                continue
            if record.get("state") == layout.STARTING:
                record = records.finish_start(vm_id, instance, record)
            records.observe(vm_id, instance)
            if record.get("state") == layout.RUNNING and self._alive(instance, record):
                self._watch(vm_id, instance, int(record["pid"]), None)

    # -- the contract ----------------------------------------------------------------------
    def start(self, spec: VmSpec) -> VmHandle:
        with self._lock(spec.vm_id):
            instance = layout.InstanceDir(Path(spec.instance_dir))
            record = instance.read_record()
            if record and record.get("state") == layout.RUNNING and self._alive(instance, record):
                return self._handle(spec.vm_id, instance)
            if record and record.get("state") == layout.SUSPENDED:
                return self.resume(self._handle(spec.vm_id, instance), spec)
            accel = self.accel.resolve(spec.boot.kernel)
            argv = cmdline.build_argv(
                spec, qemu_binary=self.qemu_binary, accel=accel, machine=self.machine
            )
            placed = cmdline.place_disks(spec.disks)
            fresh = {
                "accel": accel,
                "machine": self.machine,
                "disks": [{"name": p.disk.name, "slot": p.slot, "kind": p.disk.kind} for p in placed],
                "hotplug": [],
                "detached": [],
                "targets": hotplug.initial_targets(list(spec.disks)),
                "nics": [n.mac for n in spec.nics],
            }
            return self._launch(spec, argv, fresh)

    def shutdown(self, handle: VmHandle, timeout: float) -> None:
        with self._lock(handle.vm_id):
            instance = self.index.lookup(handle.vm_id)
            if instance is None or instance.read_record() is None:
                return
            self._stop(handle.vm_id, instance, graceful=max(timeout, 0.1), then=layout.SHUTOFF)
            instance.file(layout.STATE_FILE).unlink(missing_ok=True)  # a suspended VM's memory

    def kill(self, handle: VmHandle) -> None:
        with self._lock(handle.vm_id):
            instance = self._instance(handle)
            if instance is not None and instance.read_record() is not None:
                self._stop(handle.vm_id, instance, graceful=0, then=layout.SHUTOFF)
                instance.file(layout.STATE_FILE).unlink(missing_ok=True)
            self.index.forget(handle.vm_id)

    def reboot(self, handle: VmHandle) -> None:
        with self._lock(handle.vm_id):
            instance, _ = self._running(handle, "reboot")
            with self._session(handle.vm_id, instance) as qmp:
                qmp.cmd("system_reset")

    def suspend(self, handle: VmHandle) -> VmHandle:
        with self._lock(handle.vm_id):
            instance = self.index.lookup(handle.vm_id)
            record = instance.read_record() if instance else None
            if instance and record and record.get("state") == layout.SUSPENDED:
                return handle
            instance, record = self._running(handle, "suspend")
            instance.update_record(state=layout.SUSPENDING)
            try:
                suspend.save_state(f"VM {handle.vm_id}", instance)
            except DriverError:
                instance.update_record(state=layout.RUNNING)
                raise
            self._stop(handle.vm_id, instance, graceful=0, then=layout.SUSPENDED)
            return self._handle(handle.vm_id, instance)

    def resume(self, handle: VmHandle, spec: VmSpec) -> VmHandle:
        with self._lock(spec.vm_id):
            instance = layout.InstanceDir(Path(spec.instance_dir))
            record = instance.read_record()
            if record and record.get("state") == layout.RUNNING and self._alive(instance, record):
                return self._handle(spec.vm_id, instance)
            saved = instance.file(layout.STATE_FILE)
            if not (record and record.get("state") == layout.SUSPENDED and saved.exists()):
                if record:
                    instance.update_record(state=layout.SHUTOFF)
                return self.start(spec)  # powered off (or state lost): boot afresh
            return self._restore(spec, instance, record)

    def _restore(self, spec: VmSpec, instance: layout.InstanceDir, record: dict[str, Any]
                 ) -> VmHandle:
        vm = f"VM {spec.vm_id} ({spec.name})"
        plugged = hotplug.hotplugged(record)
        skip = set(record.get("detached", [])) | {p.disk.name for p in plugged}
        same = replace(spec, disks=tuple(d for d in spec.disks if d.name not in skip))
        argv = cmdline.build_argv(
            same, qemu_binary=self.qemu_binary, accel=record.get("accel", "tcg"),
            machine=record.get("machine", self.machine), hotplugged=plugged,
            incoming=suspend.incoming_uri(),
        )
        offset = process.log_size(instance)
        handle = self._launch(spec, argv, record, state=layout.RESUMING)
        try:
            suspend.finish_restore(vm, instance)
        except DriverError as exc:
            self._stop(spec.vm_id, instance, graceful=0, then=layout.SUSPENDED)
            detail = process.stderr_since(instance, offset)
            raise DriverError(f"{exc.message}{': ' + detail if detail else ''}",
                              hint="the saved state is kept; retry or kill the VM") from exc
        instance.update_record(state=layout.RUNNING)
        instance.file(layout.STATE_FILE).unlink(missing_ok=True)
        return handle

    def attach_disk(self, handle: VmHandle, disk: DiskSpec) -> str:
        with self._lock(handle.vm_id):
            instance, record = self._running(handle, "attach a disk")
            known = record.get("targets", {})
            if disk.name in known:
                return str(known[disk.name])
            changes = hotplug.attach(f"VM {handle.vm_id}", instance, record, disk, self.machine)
            instance.update_record(**changes)
            return str(changes["targets"][disk.name])

    def detach_disk(self, handle: VmHandle, disk_name: str) -> None:
        with self._lock(handle.vm_id):
            instance, record = self._running(handle, "detach a disk")
            if disk_name not in record.get("targets", {}):
                return
            changes = hotplug.detach(f"VM {handle.vm_id}", instance, record, disk_name)
            instance.update_record(**changes)

    def attach_nic(self, handle: VmHandle, nic: NicSpec) -> str:
        with self._lock(handle.vm_id):
            instance, record = self._running(handle, "attach a NIC")
            machine = record.get("machine", self.machine)
            device, changes = nichotplug.attach(f"VM {handle.vm_id}", instance, record, nic, machine)
            if changes:
                instance.update_record(**changes)
            return device

    def detach_nic(self, handle: VmHandle, mac: str) -> None:
        with self._lock(handle.vm_id):
            instance, record = self._running(handle, "detach a NIC")
            changes = nichotplug.detach(f"VM {handle.vm_id}", instance, record, mac)
            if changes:
                instance.update_record(**changes)

    def status(self, handle: VmHandle) -> Observation:
        instance = self.index.lookup(handle.vm_id)
        if instance is None:
            return Observation(handle.vm_id, ObservedState.MISSING)
        return records.observe(handle.vm_id, instance)

    def list_vms(self) -> list[Observation]:
        out = []
        for vm_id in self.index.vm_ids():
            instance = self.index.lookup(vm_id)
            if instance is None or instance.read_record() is None:
                self.index.forget(vm_id)  # its directory went to quarantine or was deleted
                continue
            out.append(records.observe(vm_id, instance))
        return out

    def console_log(self, handle: VmHandle) -> bytes:
        instance = self._instance(handle)
        return console.read(instance) if instance is not None else b""

    def close(self) -> None:
        with self._guard:
            watchers = list(self._watchers.values())
            self._watchers.clear()
        for watcher in watchers:
            watcher.stop()
        for watcher in watchers:
            if watcher is not threading.current_thread():
                watcher.join(timeout=5)
