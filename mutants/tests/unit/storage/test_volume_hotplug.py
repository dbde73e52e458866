"""Hot-plug of volumes through a hypervisor port: the simulated hypervisor (product code, no
guest) and a failing one."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratuslab.core.entities import Principal
from stratuslab.core.errors import DriverError, NotFound
from stratuslab.core.hypervisor import DiskSpec, VmHandle, VmSpec
from stratuslab.core.volumes import CreateVolume, VolumeAttached, disk_name_for
from stratuslab.drivers.hypervisor.simulated import SimulatedHypervisor
from stratuslab.services.storage.hotplug import VolumeHotplug
from stratuslab.services.storage.memory import InMemoryStorageUnitOfWork
from stratuslab.services.storage.service import VolumeService

from .fakes import FixedClock, RecordingBackend

ALICE = Principal("alice", 1, groups=("physics",))


@pytest.fixture
def setup(tmp_path: Path) -> tuple[VolumeService, RecordingBackend, SimulatedHypervisor, VmHandle]:
    backend = RecordingBackend()
    svc = VolumeService(
        InMemoryStorageUnitOfWork(),
        {"default": backend},
        clock=FixedClock(),
        default_pool="default",
    )
    hv = SimulatedHypervisor(tmp_path / "sim")
    handle = hv.start(VmSpec(vm_id=17, name="a", vcpu=1, memory_mib=64, instance_dir=str(tmp_path)))
    return svc, backend, hv, handle


def test_attach_plugs_the_export_and_records_the_device(setup) -> None:  # type: ignore[no-untyped-def]
    svc, backend, hv, handle = setup
    vol = svc.create(ALICE, CreateVolume(size_gb=1))
    plugged = VolumeHotplug(svc).attach(ALICE, vol.uuid, hv, handle)
    assert plugged.device.startswith("vd") and plugged.vm_id == 17
    assert svc.get(ALICE, vol.uuid).attached_to == (17,)
    assert vol.uuid in backend.exported
    VolumeHotplug(svc).detach(ALICE, vol.uuid, hv, handle)
    assert svc.get(ALICE, vol.uuid).attached_to == () and vol.uuid not in backend.exported
    with pytest.raises(NotFound):
        VolumeHotplug(svc).detach(ALICE, vol.uuid, hv, handle)


class RefusingHypervisor:
    def attach_disk(self, handle: VmHandle, disk: DiskSpec) -> str:
        self.seen = disk
        raise DriverError("VM 17: QMP failed: Bus 'pci.0' does not support hotplugging")


def test_failed_plug_leaves_the_volume_free_and_unexported(setup) -> None:  # type: ignore[no-untyped-def]
    svc, backend, _, handle = setup
    vol = svc.create(ALICE, CreateVolume(size_gb=1))
    hv = RefusingHypervisor()
    with pytest.raises(DriverError, match="hotplugging"):
        VolumeHotplug(svc).attach(ALICE, vol.uuid, hv, handle)  # type: ignore[arg-type]
    assert hv.seen.name == disk_name_for(vol.uuid) and hv.seen.format == "raw"
    assert svc.get(ALICE, vol.uuid).attached_to == () and vol.uuid not in backend.exported


def test_second_plug_of_a_writable_volume_names_the_holder(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    svc, _, hv, handle = setup
    other = hv.start(VmSpec(vm_id=18, name="b", vcpu=1, memory_mib=64, instance_dir=str(tmp_path)))
    vol = svc.create(ALICE, CreateVolume(size_gb=1))
    VolumeHotplug(svc).attach(ALICE, vol.uuid, hv, handle)
    with pytest.raises(VolumeAttached, match=f"stratus detach-volume -i 17 {vol.uuid}"):
        VolumeHotplug(svc).attach(ALICE, vol.uuid, hv, other)
