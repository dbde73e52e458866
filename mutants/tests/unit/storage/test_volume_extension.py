"""Volumes at launch: the VM lifecycle hooks of VolumeExtension on the in-memory fakes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import Principal, Vm
from stratuslab.core.errors import Forbidden, InvalidInput, NotFound
from stratuslab.core.node import Node
from stratuslab.core.volumes import (
    CreateVolume,
    QuotaSubject,
    StorageUsage,
    SubjectKind,
    VolumeAttached,
    disk_name_for,
)
from stratuslab.services.storage.extension import VolumeExtension
from stratuslab.services.storage.memory import InMemoryStorageUnitOfWork
from stratuslab.services.storage.rules import VolumeStateError
from stratuslab.services.storage.service import VolumeService

from .fakes import RecordingBackend

ALICE = Principal("alice", 1, groups=("physics",))
BOB = Principal("bob", 2, groups=("physics",))
ADMIN = Principal("root", 0, roles=frozenset({"admin"}))
NODE = Node("node-1", None, None)  # type: ignore[arg-type]  # the hooks never touch the node


class Clock:
    def now(self) -> datetime:
        return datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def vm(vm_id: int, owner: str = "alice") -> Vm:
    return Vm(vm_id, f"vm-{vm_id}", owner, "physics", "pending", 1, "m1.small", 1, 512)


@pytest.fixture
def world() -> tuple[InMemoryStorageUnitOfWork, RecordingBackend, VolumeService, VolumeExtension]:
    uow, backend = InMemoryStorageUnitOfWork(), RecordingBackend()
    svc = VolumeService(uow, {"default": backend}, clock=Clock(), default_pool="default")
    ext = VolumeExtension(uow, {"default": backend}, clock=Clock())
    return uow, backend, svc, ext


def test_launch_with_persistent_disk_claims_exports_and_boots_with_it(world) -> None:  # type: ignore[no-untyped-def]
    uow, backend, svc, ext = world
    vol = svc.create(ALICE, CreateVolume(size_gb=1))
    cmd = RunInstance(image_id=1, persistent_disks=(vol.uuid,))
    ext.validate(ALICE, cmd)
    ext.on_create(uow, ALICE, vm(17), cmd)
    assert svc.get(ALICE, vol.uuid).attached_to == (17,)
    (disk,) = ext.on_prolog(vm(17), NODE).disks
    assert disk.name == disk_name_for(vol.uuid) and disk.source.startswith("iscsi://")
    assert disk.format == "raw" and not disk.readonly
    with pytest.raises(VolumeAttached, match="attached to VM 17; detach it first"):
        ext.on_create(uow, ALICE, vm(18), cmd)


def test_vm_end_unexports_and_detaches_leaving_the_volume_intact(world) -> None:  # type: ignore[no-untyped-def]
    uow, backend, svc, ext = world
    vol = svc.create(ALICE, CreateVolume(size_gb=1))
    ext.on_create(uow, ALICE, vm(5), RunInstance(image_id=1, persistent_disks=(vol.uuid,)))
    ext.on_prolog(vm(5), NODE)
    ext.on_node_release(vm(5), NODE)
    assert vol.uuid not in backend.exported
    ext.on_finish(uow, vm(5), "done")
    kept = svc.get(ALICE, vol.uuid)
    assert kept.attached_to == () and kept.state == "ready" and kept.owner == "alice"
    ext.on_finish(uow, vm(5), "done")  # idempotent


def test_readonly_volume_is_shared_at_launch_and_stays_exported_while_used(world) -> None:  # type: ignore[no-untyped-def]
    uow, backend, svc, ext = world
    vol = svc.create(ALICE, CreateVolume(size_gb=1, visibility="public"))
    cmd = RunInstance(image_id=1, readonly_disks=(vol.uuid, "GJ5vp7WZxUx8cMMOmH9nvhhlCT5"))
    ext.on_create(uow, ALICE, vm(1), cmd)
    ext.on_create(uow, BOB, vm(2, "bob"), cmd)
    assert [d.readonly for d in ext.on_prolog(vm(2, "bob"), NODE).disks] == [True]
    ext.on_node_release(vm(1), NODE)
    assert vol.uuid in backend.exported  # VM 2 still reads it
    with pytest.raises(VolumeAttached):
        svc.attach(ALICE, vol.uuid, 3)  # no writer while readers hold it


def test_another_users_private_volume_at_launch_is_not_found(world) -> None:  # type: ignore[no-untyped-def]
    uow, _, svc, ext = world
    vol = svc.create(ALICE, CreateVolume(size_gb=1))
    with pytest.raises(NotFound):
        ext.on_create(uow, BOB, vm(9, "bob"), RunInstance(image_id=1, persistent_disks=(vol.uuid,)))


def test_several_vms_cannot_share_a_writable_volume_at_launch(world) -> None:  # type: ignore[no-untyped-def]
    _, _, svc, ext = world
    vol = svc.create(ALICE, CreateVolume(size_gb=1))
    with pytest.raises(InvalidInput, match="attached to one VM at a time"):
        ext.validate(ALICE, RunInstance(image_id=1, count=2, persistent_disks=(vol.uuid,)))


def test_volatile_disks_are_listed_and_charged_while_their_vm_lives(world) -> None:  # type: ignore[no-untyped-def]
    uow, _, svc, ext = world
    ext.on_create(uow, ALICE, vm(8), RunInstance(image_id=1, volatile_gb=(2, 3)))
    scratch = svc.describe(ALICE, filters=["kind:volatile"])
    assert sorted(v.size_gb for v in scratch) == [2, 3]
    assert {v.tag for v in scratch} == {"volatile-1 of VM 8", "volatile-2 of VM 8"}
    assert uow.storage_quotas.usage(QuotaSubject(SubjectKind.USER, "alice")) == StorageUsage(2, 5)
    with pytest.raises(VolumeStateError, match="kill-instance 8"):
        svc.delete(ALICE, scratch[0].uuid)
    ext.on_finish(uow, vm(8), "done")
    assert svc.describe(ALICE) == []
    assert uow.storage_quotas.usage(QuotaSubject(SubjectKind.USER, "alice")) == StorageUsage(0, 0)


def test_root_volume_is_recorded_with_its_vm_and_quarantined_when_it_ends_done(world) -> None:  # type: ignore[no-untyped-def]
    uow, _, svc, ext = world
    ext.on_create(uow, ALICE, vm(11), RunInstance(image_id=1))
    (root,) = svc.describe(ALICE, filters=["kind:root"])
    assert (root.vm_id, root.pool, root.state, root.parent) == (11, "local", "ready", "image:1")
    with pytest.raises(VolumeStateError, match="quarantine with VM 11"):
        svc.delete(ALICE, root.uuid)
    assert uow.storage_quotas.usage(QuotaSubject(SubjectKind.USER, "alice")) == StorageUsage(0, 0)
    ext.on_finish(uow, vm(11), "done")
    assert svc.describe(ALICE) == []  # the cloud's now, listed to admins only
    (kept,) = svc.quarantined(ADMIN)
    assert kept.uuid == root.uuid and kept.quarantined_at == Clock().now()
    (purged,) = svc.purge(ADMIN, root.uuid)
    assert purged.state == "deleted" and svc.quarantined(ADMIN) == []


def test_root_volume_of_a_failed_deploy_is_dropped_not_quarantined(world) -> None:  # type: ignore[no-untyped-def]
    uow, _, svc, ext = world
    ext.on_create(uow, ALICE, vm(12), RunInstance(image_id=1))
    ext.on_finish(uow, vm(12), "failed")
    assert svc.quarantined(ADMIN) == [] and svc.describe(ADMIN) == []
    with pytest.raises(Forbidden, match="only admins"):
        svc.quarantined(ALICE)
