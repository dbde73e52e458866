"""The qemu driver with a real tiny guest under TCG: one guest booted for the whole module.

The tests run in file order on that guest: ready line, a driver restart that finds it again,
suspend/resume (with a restart while suspended), disk hot-plug, and last the guest's own
power-off.  A corrupt disk and the accelerator choice need no booted guest.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from tests.helpers.waits import wait_until

from stratuslab.core.errors import DriverError
from stratuslab.core.hypervisor import (
    BootSpec,
    DiskSpec,
    NicSpec,
    Observation,
    ObservedState,
    VmHandle,
    VmSpec,
)
from stratuslab.core.imagebuild import BuiltImage
from stratuslab.core.instance import ContextSpec, PrologRequest
from stratuslab.drivers import _process
from stratuslab.drivers.hypervisor.guestagent import run_in_guest
from stratuslab.drivers.hypervisor.qemu import QemuHypervisor
from stratuslab.drivers.hypervisor.qemu.accel import AccelChooser, probe_boot, static_kvm_verdict
from stratuslab.drivers.storage.instance import FileInstanceStorage
from stratuslab.drivers.storage.volumes import IscsiBackend, build_backend

pytestmark = pytest.mark.integration

READY = re.compile(rb"^stratuslab-ready hostname=(\S+)", re.MULTILINE)
BOOT_TIMEOUT = 180.0


@dataclass
class Guest:
    run_dir: Path
    spec: VmSpec
    driver: QemuHypervisor
    handle: VmHandle
    events: list[Observation] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def sink(self, observation: Observation) -> None:
        self.events.append(observation)
        self.arrived.set()

    def reopen(self) -> None:
        """What a server restart does to the driver: a new instance on the same run dir."""
        self.driver.close()
        self.driver = QemuHypervisor(self.run_dir, accel="tcg")
        self.driver.set_event_sink(self.sink)

    def sh(self, command: str) -> str:
        rc, out = run_in_guest(str(self.handle.data["agent_socket"]), command, timeout=60)
        assert rc == 0, out
        return out


def qemu_pids_in(instance_dir: str) -> list[int]:
    """Live QEMU processes whose working directory is `instance_dir`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if cwd == instance_dir and cmd.startswith(b"qemu-system") and state != "Z":
            found.append(int(entry))
    return found


@pytest.fixture(scope="module")
def guest(tiny_image: BuiltImage, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guest]:
    root = tmp_path_factory.mktemp("qemu-driver")
    storage = FileInstanceStorage(str(root / "instances"), str(root / "quarantine"))
    boot = BootSpec(tiny_image.kernel, tiny_image.initrd, tiny_image.cmdline)
    prepared = storage.prepare(PrologRequest(
        vm_id=1, name="kestrel", image_path=tiny_image.path, image_format=tiny_image.format,
        boot=boot, context=ContextSpec(instance_id="vm-1", hostname="kestrel")))
    spec = VmSpec(vm_id=1, name="kestrel", vcpu=1, memory_mib=128,
                  instance_dir=prepared.instance_dir, disks=prepared.disks, boot=prepared.boot)
    driver = QemuHypervisor(root / "run", accel="tcg")
    g = Guest(root / "run", spec, driver, VmHandle(1, "localhost"))
    driver.set_event_sink(g.sink)
    try:
        g.handle = driver.start(spec)
        yield g
    finally:
        g.driver.kill(g.handle)
        g.driver.close()
        assert qemu_pids_in(spec.instance_dir) == []


def wait_ready(g: Guest) -> bytes:
    deadline = time.monotonic() + BOOT_TIMEOUT
    while True:
        log = g.driver.console_log(g.handle)
        found = READY.search(log)
        if found:
            return found.group(1)
        assert time.monotonic() < deadline, log[-3000:].decode(errors="replace")
        time.sleep(0.1)


def test_guest_boots_to_its_ready_line_with_the_contextualized_hostname(guest: Guest) -> None:
    assert wait_ready(guest) == b"kestrel"
    assert guest.driver.status(guest.handle).state is ObservedState.RUNNING


def test_new_driver_instance_finds_the_running_vm_without_duplicate_or_orphan(guest: Guest) -> None:
    pids = qemu_pids_in(guest.spec.instance_dir)
    assert len(pids) == 1
    guest.reopen()
    assert guest.driver.list_vms() == [Observation(1, ObservedState.RUNNING)]
    assert guest.driver.start(guest.spec).vm_id == 1  # a replayed start does not boot a twin
    assert qemu_pids_in(guest.spec.instance_dir) == pids


def test_suspend_and_resume_keep_the_guest_uptime_counting(guest: Guest) -> None:
    before = float(guest.sh("cat /proc/uptime").split()[0])
    guest.handle = guest.driver.suspend(guest.handle)
    assert qemu_pids_in(guest.spec.instance_dir) == []
    guest.reopen()  # the VM survives a server restart while suspended
    assert guest.driver.list_vms() == [Observation(1, ObservedState.SUSPENDED, guest.driver.status(guest.handle).reason)]
    guest.handle = guest.driver.resume(guest.handle, guest.spec)
    after = float(guest.sh("cat /proc/uptime").split()[0])
    assert after > before
    assert guest.sh("hostname").strip() == "kestrel"
    assert len(qemu_pids_in(guest.spec.instance_dir)) == 1


def test_hot_plugged_disk_appears_in_the_guest_and_leaves_on_detach(guest: Guest) -> None:
    extra = os.path.join(guest.spec.instance_dir, "extra.qcow2")
    _process.run(["qemu-img", "create", "-q", "-f", "qcow2", extra, "64M"], timeout=30)
    known = set(guest.sh("ls /sys/block").split())
    name = guest.driver.attach_disk(guest.handle, DiskSpec(name="vol-extra", source=extra))
    assert name not in known
    assert guest.driver.attach_disk(guest.handle, DiskSpec(name="vol-extra", source=extra)) == name
    deadline = time.monotonic() + 30
    while name not in guest.sh("ls /sys/block").split():
        assert time.monotonic() < deadline, f"{name} never appeared in the guest"
        time.sleep(0.2)
    guest.driver.detach_disk(guest.handle, "vol-extra")
    guest.driver.detach_disk(guest.handle, "vol-extra")
    assert set(guest.sh("ls /sys/block").split()) == known


def guest_macs(guest: Guest) -> list[str]:
    return guest.sh("cat /sys/class/net/*/address").split()


def test_hot_plugged_nic_appears_in_the_guest_survives_suspend_and_leaves_on_detach(
    guest: Guest,
) -> None:
    nic = NicSpec(mac="02:00:0a:fe:09:99")  # no tap: the guest sees the NIC without a data plane
    assert nic.mac not in guest_macs(guest)
    device = guest.driver.attach_nic(guest.handle, nic)
    assert guest.driver.attach_nic(guest.handle, nic) == device  # idempotent
    deadline = time.monotonic() + 30
    while nic.mac not in guest_macs(guest):
        assert time.monotonic() < deadline, f"{nic.mac} never appeared in the guest"
        time.sleep(0.2)
    spec = replace(guest.spec, nics=(*guest.spec.nics, nic))  # what the service keeps
    guest.handle = guest.driver.resume(guest.driver.suspend(guest.handle), spec)
    assert nic.mac in guest_macs(guest)
    guest.driver.detach_nic(guest.handle, nic.mac)
    guest.driver.detach_nic(guest.handle, nic.mac)
    assert nic.mac not in guest_macs(guest)


@pytest.fixture
def iscsi(tmp_path: Path) -> Iterator[IscsiBackend]:
    """A private tgtd on a loopback portal (stopped at teardown, even on failure)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    control = random.choice([p for p in range(20000, 30000)
                             if not os.path.exists(f"/var/run/tgtd/socket.{p}")])
    table = {"backend": "iscsi", "path": str(tmp_path / "san"), "portal": f"127.0.0.1:{port}",
             "control_port": control}
    backend = build_backend("san", table, data_dir=str(tmp_path))
    assert isinstance(backend, IscsiBackend)
    try:
        yield backend
    finally:
        backend.stop()


def test_iscsi_lun_hot_plugged_through_qemus_client_keeps_what_the_guest_wrote(
    guest: Guest, iscsi: IscsiBackend
) -> None:
    path = iscsi.create("0c0ffee0-0000-4000-8000-000000000001", 1)
    source = iscsi.export("0c0ffee0-0000-4000-8000-000000000001")
    disk = DiskSpec(name="vol-san", source=source, format="raw",
                    auth=iscsi.credentials("0c0ffee0-0000-4000-8000-000000000001"))  # its CHAP
    name = guest.driver.attach_disk(guest.handle, disk)
    deadline = time.monotonic() + 30
    while name not in guest.sh("ls /sys/block").split():
        assert time.monotonic() < deadline, f"{name} never appeared in the guest"
        time.sleep(0.2)
    guest.sh(f"printf STRATUSLAB-ISCSI > /dev/{name} && sync")
    guest.driver.detach_disk(guest.handle, "vol-san")
    iscsi.unexport("0c0ffee0-0000-4000-8000-000000000001")
    with open(path, "rb") as f:
        assert f.read(16) == b"STRATUSLAB-ISCSI"


def test_guest_poweroff_is_reported_as_one_shutoff_event(guest: Guest) -> None:
    [pid] = qemu_pids_in(guest.spec.instance_dir)
    guest.arrived.clear()
    seen = len(guest.events)
    guest.sh("(sleep 0.2; poweroff) >/dev/null 2>&1 &")
    wait_until(lambda: not os.path.exists(f"/proc/{pid}")
               or pid not in qemu_pids_in(guest.spec.instance_dir),
               timeout=60, message="the guest did not power off")
    assert guest.arrived.wait(timeout=30), "no event after the guest powered itself off"
    # pushed by the driver, not found by a status poll: exactly one event, the power-off, and
    # the state the driver reports afterwards agrees with it (no crash, no second event)
    poweroff = [Observation(1, ObservedState.SHUTOFF, "the guest powered itself off")]
    assert guest.events[seen:] == poweroff
    assert guest.driver.status(guest.handle).state is ObservedState.SHUTOFF
    assert guest.events[seen:] == poweroff


def test_graceful_shutdown_powers_the_guest_off_through_acpi(guest: Guest) -> None:
    guest.handle = guest.driver.resume(guest.handle, guest.spec)  # powered off: boots afresh
    wait_ready(guest)
    guest.driver.shutdown(guest.handle, timeout=60)
    observed = guest.driver.status(guest.handle)
    assert observed == Observation(1, ObservedState.SHUTOFF, "stopped by the cloud (guest)")
    assert qemu_pids_in(guest.spec.instance_dir) == []


def test_nics_in_a_namespace_run_qemu_inside_it(tmp_path: Path) -> None:
    ns = f"stq{os.getpid()}"
    _process.run(["ip", "netns", "add", ns], timeout=30)
    driver = QemuHypervisor(tmp_path / "run", accel="tcg")
    try:
        _process.run(["ip", "-n", ns, "tuntap", "add", "tapq1", "mode", "tap"], timeout=30)
        _process.run(["ip", "-n", ns, "link", "set", "tapq1", "up"], timeout=30)
        spec = VmSpec(
            vm_id=5,
            name="netns",
            vcpu=1,
            memory_mib=64,
            instance_dir=str(tmp_path / "vm"),
            nics=(NicSpec("52:54:00:12:34:56", tap="tapq1", netns=ns),),
        )
        handle = driver.start(spec)
        [pid] = qemu_pids_in(spec.instance_dir)
        assert os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/run/netns/{ns}").st_ino
        driver.kill(handle)
        assert qemu_pids_in(spec.instance_dir) == []
    finally:
        driver.close()
        _process.run(["ip", "netns", "del", ns], timeout=30, check=False)


def test_corrupt_disk_start_fails_with_qemus_own_message_and_leaves_nothing(tmp_path: Path) -> None:
    disk = tmp_path / "vm" / "root.qcow2"
    disk.parent.mkdir()
    disk.write_bytes(b"QFI\xfb" + b"\0" * 4 + b"garbage" * 100)  # qcow2 magic, nonsense header
    spec = VmSpec(vm_id=9, name="broken", vcpu=1, memory_mib=64, instance_dir=str(disk.parent),
                  disks=(DiskSpec(name="root", source=str(disk)),))
    driver = QemuHypervisor(tmp_path / "run", accel="tcg")
    try:
        with pytest.raises(DriverError) as failure:
            driver.start(spec)
        assert "qcow2" in str(failure.value).lower()
        assert "refused to start" in str(failure.value)
        kept = Path(str(failure.value.hint).rsplit(" ", 1)[-1])  # the log, kept outside the VM
        shutil.rmtree(disk.parent)  # what a failed deploy's rollback does to the instance dir
        assert kept.parent == tmp_path / "run" / "failed-logs"
        assert "qcow2" in kept.read_text().lower()
        assert driver.list_vms() == []
        assert qemu_pids_in(str(disk.parent)) == []
    finally:
        driver.close()


def test_auto_accelerator_never_picks_a_kvm_that_cannot_boot(tmp_path: Path, tiny_image: BuiltImage
                                                             ) -> None:
    usable, why = static_kvm_verdict()
    chooser = AccelChooser("auto", tmp_path, "qemu-system-x86_64")
    assert tiny_image.kernel
    chosen = chooser.resolve(tiny_image.kernel)
    assert chooser.cached() is not None  # remembered for the next start
    if not usable:  # this machine: /dev/kvm is kvm_pvm, or no vmx/svm
        assert chosen == "tcg", why
    if os.path.exists("/dev/kvm") and not usable:
        ok, _ = probe_boot("qemu-system-x86_64", tiny_image.kernel, tmp_path, timeout=10)
        assert not ok  # the bounded test boot agrees: stock kernels hang under this KVM
    ok, reason = probe_boot("qemu-system-x86_64", tiny_image.kernel, tmp_path, accel="tcg",
                            timeout=60)
    assert ok, reason
