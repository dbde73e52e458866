"""The hypervisor contract, run against the simulated driver (fast, no real guest)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.contract.hypervisor_contract import HypervisorContract, HypervisorEnv

from stratuslab.core.hypervisor import VmHandle, VmSpec
from stratuslab.drivers.hypervisor.base import Hypervisor
from stratuslab.drivers.hypervisor.simulated import SimulatedHypervisor


def _poweroff(drv: Hypervisor, handle: VmHandle) -> None:
    assert isinstance(drv, SimulatedHypervisor)
    drv.simulate_guest_poweroff(handle.vm_id)


@pytest.fixture
def hv(tmp_path: Path) -> HypervisorEnv:
    def spec(vm_id: int) -> VmSpec:
        return VmSpec(vm_id=vm_id, name=f"vm{vm_id}", vcpu=1, memory_mib=64,
                      instance_dir=str(tmp_path / "instances" / str(vm_id)))

    def broken(vm_id: int) -> VmSpec:
        return VmSpec(vm_id=vm_id, name="broken", vcpu=1, memory_mib=64,
                      instance_dir=str(tmp_path / "instances" / str(vm_id)),
                      extra={"simulate_failure": "start"})

    return HypervisorEnv(open=lambda: SimulatedHypervisor(tmp_path / "state"), spec=spec,
                         broken_spec=broken, guest_poweroff=_poweroff,
                         crash=lambda drv, h: drv.simulate_crash(h.vm_id))  # type: ignore[attr-defined]


class TestSimulatedHypervisor(HypervisorContract):
    pass
