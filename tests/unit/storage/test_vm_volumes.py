"""Hot-plug into a caller's VM (VmVolumes): only a running VM, on the simulated hypervisor; an
attach that raced with the VM's end gives the volume back."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratuslab.core.entities import Principal, Vm
from stratuslab.core.errors import InvalidState
from stratuslab.core.hypervisor import VmSpec
from stratuslab.core.node import Node
from stratuslab.core.vmspec import InstanceSpec
from stratuslab.core.volumes import CreateVolume
from stratuslab.drivers.hypervisor.simulated import SimulatedHypervisor
from stratuslab.services.storage.hotplug import VolumeHotplug
from stratuslab.services.storage.memory import InMemoryStorageUnitOfWork
from stratuslab.services.storage.service import VolumeService
from stratuslab.services.storage.vmattach import VmVolumes

from .fakes import FixedClock, RecordingBackend

ALICE = Principal("alice", 1, groups=("physics",))


def running_vm(tmp_path: Path) -> tuple[SimulatedHypervisor, Vm]:
    hv = SimulatedHypervisor(tmp_path / "sim")
    h = hv.start(VmSpec(vm_id=5, name="a", vcpu=1, memory_mib=64, instance_dir=str(tmp_path)))
    vm = Vm(5, "a", "alice", "physics", "running", 1, "m1.small", 1, 64, host="node-1",
            spec=InstanceSpec(handle={"host": h.host, "data": dict(h.data)}))  # fmt: skip
    return hv, vm


def world(tmp_path: Path, state: str) -> tuple[VolumeService, VmVolumes, Vm]:
    svc = VolumeService(InMemoryStorageUnitOfWork(), {"default": RecordingBackend()},
                        clock=FixedClock(), default_pool="default")  # fmt: skip
    hv, vm = running_vm(tmp_path)
    nodes = {"node-1": Node("node-1", hv, None)}  # type: ignore[arg-type]
    return svc, VmVolumes(VolumeHotplug(svc), nodes, volumes=svc, vm_state=lambda _: state), vm


def test_attach_and_detach_a_running_vm_report_the_device(tmp_path: Path) -> None:
    svc, vmv, vm = world(tmp_path, "running")
    vol = svc.create(ALICE, CreateVolume(size_gb=1))
    (plugged,) = vmv.attach(ALICE, vm, [vol.uuid])
    assert plugged.device.startswith("vd") and svc.get(ALICE, vol.uuid).attached_to == (5,)
    vmv.detach(ALICE, vm, [vol.uuid])
    assert svc.get(ALICE, vol.uuid).attached_to == ()


def test_a_vm_that_is_not_running_is_refused_with_its_state(tmp_path: Path) -> None:
    svc, vmv, vm = world(tmp_path, "running")
    vol = svc.create(ALICE, CreateVolume(size_gb=1))
    vm.state = "poweroff"
    with pytest.raises(InvalidState, match="VM 5 \\(a\\) is poweroff; cannot attach a volume"):
        vmv.attach(ALICE, vm, [vol.uuid])
    assert svc.get(ALICE, vol.uuid).attached_to == ()


def test_an_attach_racing_with_the_vms_end_gives_the_volume_back(tmp_path: Path) -> None:
    svc, vmv, vm = world(tmp_path, "epilog")
    vol = svc.create(ALICE, CreateVolume(size_gb=1))
    with pytest.raises(InvalidState, match="the volume was released"):
        vmv.attach(ALICE, vm, [vol.uuid])
    assert svc.get(ALICE, vol.uuid).attached_to == ()
