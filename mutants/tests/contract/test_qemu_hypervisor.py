"""The hypervisor contract, run against the qemu driver with real QEMU (TCG) and the tiny guest.

Most checks only need QEMU to run, not the guest to be up, so each VM is killed long before it
finishes booting; only the guest power-off check boots one guest fully.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest
from tests.contract.hypervisor_contract import HypervisorContract, HypervisorEnv

from stratuslab.core.hypervisor import BootSpec, DiskSpec, VmHandle, VmSpec
from stratuslab.core.imagebuild import BuiltImage
from stratuslab.core.instance import ContextSpec, PrologRequest
from stratuslab.drivers.hypervisor.base import Hypervisor
from stratuslab.drivers.hypervisor.guestagent import run_in_guest
from stratuslab.drivers.hypervisor.qemu import QemuHypervisor
from stratuslab.drivers.storage.instance import FileInstanceStorage

pytestmark = pytest.mark.integration

READY = re.compile(rb"^stratuslab-ready hostname=", re.MULTILINE)
BOOT_TIMEOUT = 180.0


def wait_ready(drv: Hypervisor, handle: VmHandle) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    while not READY.search(drv.console_log(handle)):
        assert time.monotonic() < deadline, drv.console_log(handle)[-2000:].decode(errors="replace")
        time.sleep(0.1)


def guest_poweroff(drv: Hypervisor, handle: VmHandle) -> None:
    wait_ready(drv, handle)
    rc, _ = run_in_guest(str(handle.data["agent_socket"]),
                         "(sleep 0.2; poweroff) >/dev/null 2>&1 &", timeout=60)
    assert rc == 0


def sigkill_qemu(drv: Hypervisor, handle: VmHandle) -> None:
    """What a QEMU crash looks like: its process dies without a SHUTDOWN event."""
    instance = str(handle.data["instance_dir"])
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.readlink(f"/proc/{entry}/cwd") == instance:
                if Path(f"/proc/{entry}/cmdline").read_bytes().startswith(b"qemu-system"):
                    os.kill(int(entry), signal.SIGKILL)
                    return
        except OSError:
            continue
    raise AssertionError(f"no QEMU runs in {instance}")


@pytest.fixture
def hv(tmp_path: Path, tiny_image: BuiltImage) -> HypervisorEnv:
    storage = FileInstanceStorage(str(tmp_path / "instances"), str(tmp_path / "quarantine"))
    specs: dict[int, VmSpec] = {}

    def spec(vm_id: int) -> VmSpec:
        if vm_id not in specs:
            boot = BootSpec(tiny_image.kernel, tiny_image.initrd, tiny_image.cmdline)
            prepared = storage.prepare(PrologRequest(
                vm_id=vm_id, name=f"vm{vm_id}", image_path=tiny_image.path,
                image_format=tiny_image.format, boot=boot,
                context=ContextSpec(instance_id=f"vm-{vm_id}", hostname=f"vm{vm_id}")))
            specs[vm_id] = VmSpec(vm_id=vm_id, name=f"vm{vm_id}", vcpu=1, memory_mib=128,
                                  instance_dir=prepared.instance_dir, disks=prepared.disks,
                                  boot=prepared.boot)
        return specs[vm_id]

    def broken(vm_id: int) -> VmSpec:
        instance = tmp_path / "instances" / str(vm_id)
        instance.mkdir(parents=True)
        (instance / "root.qcow2").write_bytes(b"this is not a qcow2 image\n" * 100)
        return VmSpec(vm_id=vm_id, name="broken", vcpu=1, memory_mib=128,
                      instance_dir=str(instance),
                      disks=(DiskSpec(name="root", source=str(instance / "root.qcow2")),))

    return HypervisorEnv(open=lambda: QemuHypervisor(tmp_path / "run", accel="auto"),
                         spec=spec, broken_spec=broken, guest_poweroff=guest_poweroff,
                         crash=sigkill_qemu)


class TestQemuHypervisor(HypervisorContract):
    pass
