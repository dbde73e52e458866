"""The hypervisor contract, run against the qemu driver with real QEMU (TCG) and the tiny guest.

Most checks only need QEMU to run, not the guest to be up, so each VM is killed long before it
finishes booting; only the guest power-off check boots one guest fully.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from tests.contract.hypervisor_contract import HypervisorContract, HypervisorEnv
from tests.helpers.vmspecs import guest_poweroff, tiny_specs

from stratuslab.core.hypervisor import VmHandle
from stratuslab.core.imagebuild import BuiltImage
from stratuslab.drivers.hypervisor.base import Hypervisor
from stratuslab.drivers.hypervisor.qemu import QemuHypervisor

pytestmark = pytest.mark.integration




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
    spec, broken = tiny_specs(tmp_path, tiny_image)

    return HypervisorEnv(open=lambda: QemuHypervisor(tmp_path / "run", accel="auto"),
                         spec=spec, broken_spec=broken, guest_poweroff=guest_poweroff,
                         crash=sigkill_qemu)


class TestQemuHypervisor(HypervisorContract):
    pass
