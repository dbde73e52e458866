"""VM specs and guest helpers shared by the real hypervisor contract runs (qemu, libvirt): a
bootable tiny-guest spec per VM id, a spec whose start fails in the backend, waiting for the
guest's ready line and making the guest power itself off through its agent."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from stratuslab.core.hypervisor import BootSpec, DiskSpec, VmHandle, VmSpec
from stratuslab.core.imagebuild import BuiltImage
from stratuslab.core.instance import ContextSpec, PrologRequest
from stratuslab.drivers.hypervisor.base import Hypervisor
from stratuslab.drivers.hypervisor.guestagent import run_in_guest
from stratuslab.drivers.storage.instance import FileInstanceStorage

READY = re.compile(rb"^stratuslab-ready hostname=", re.MULTILINE)
BOOT_TIMEOUT = 240.0


def tiny_specs(tmp_path: Path, tiny_image: BuiltImage
               ) -> tuple[Callable[[int], VmSpec], Callable[[int], VmSpec]]:
    """(spec, broken): `spec(id)` prepares the instance once and returns the same spec again;
    `broken(id)` is a VM whose root disk is not the qcow2 it claims to be."""
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

    return spec, broken


def wait_ready(drv: Hypervisor, handle: VmHandle, timeout: float = BOOT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not READY.search(drv.console_log(handle)):
        assert time.monotonic() < deadline, drv.console_log(handle)[-2000:].decode(errors="replace")
        time.sleep(0.1)


def guest_poweroff(drv: Hypervisor, handle: VmHandle) -> None:
    wait_ready(drv, handle)
    rc, _ = run_in_guest(str(handle.data["agent_socket"]),
                         "(sleep 0.2; poweroff) >/dev/null 2>&1 &", timeout=60)
    assert rc == 0
