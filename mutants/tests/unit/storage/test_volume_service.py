"""The volume service on the in-memory unit of work and a recording backend."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from stratuslab.core.entities import Principal
from stratuslab.core.errors import CloudError, DriverError, Forbidden, NotFound
from stratuslab.core.volumes import (
    CreateVolume,
    ImageParent,
    QuotaSubject,
    StorageQuota,
    StorageQuotaExceeded,
    StorageUsage,
    SubjectKind,
    UpdateVolume,
    VolumeAttached,
    VolumeHasChildren,
    VolumeKind,
    VolumeState,
)
from stratuslab.services.storage.memory import InMemoryStorageUnitOfWork
from stratuslab.services.storage.quotas import QuotaAccountant, QuotaDefaults
from stratuslab.services.storage.service import VolumeService

from .fakes import FixedClock, RecordingBackend

ALICE = Principal("alice", 1, groups=("physics",))
BOB = Principal("bob", 2, groups=("physics",))
ADMIN = Principal("root", 0, roles=frozenset({"admin"}))
ALICE_Q = QuotaSubject(SubjectKind.USER, "alice")
PHYSICS_Q = QuotaSubject(SubjectKind.GROUP, "physics")


@pytest.fixture
def uow() -> InMemoryStorageUnitOfWork:
    return InMemoryStorageUnitOfWork()


@pytest.fixture
def backend() -> RecordingBackend:
    return RecordingBackend()


def make_service(
    uow: InMemoryStorageUnitOfWork, backend: RecordingBackend, quotas: QuotaDefaults | None = None
) -> VolumeService:
    counter = iter(range(1, 10_000))
    return VolumeService(
        uow,
        {"default": backend},
        clock=FixedClock(),
        default_pool="default",
        quotas=QuotaAccountant(quotas),
        new_uuid=lambda: f"3f2a0c1e-0000-4000-8000-{next(counter):012d}",
    )


@pytest.fixture
def svc(uow: InMemoryStorageUnitOfWork, backend: RecordingBackend) -> VolumeService:
    return make_service(uow, backend)


def test_create_records_ready_volume_and_charges_user_and_group(
    svc: VolumeService, uow: InMemoryStorageUnitOfWork, backend: RecordingBackend
) -> None:
    v = svc.create(ALICE, CreateVolume(size_gb=5, tag="data"))
    assert v.state == VolumeState.READY and v.location == f"/pool/{v.uuid}.qcow2"
    assert backend.calls == [("create", v.uuid, "5", "None")]
    assert svc.get(ALICE, v.uuid).state == VolumeState.READY
    assert uow.storage_quotas.usage(ALICE_Q) == StorageUsage(1, 5)
    assert uow.storage_quotas.usage(PHYSICS_Q) == StorageUsage(1, 5)


def test_backend_failure_marks_volume_failed_with_the_driver_text(
    svc: VolumeService, backend: RecordingBackend
) -> None:
    backend.fail.add("create")
    with pytest.raises(DriverError):
        svc.create(ALICE, CreateVolume(size_gb=1))
    (failed,) = svc.describe(ALICE)
    assert failed.state == VolumeState.FAILED and "disk full" in (failed.error or "")


def test_quota_exceeded_is_refused_and_charges_nothing(
    uow: InMemoryStorageUnitOfWork, backend: RecordingBackend
) -> None:
    svc = make_service(uow, backend, QuotaDefaults(group=StorageQuota(max_gb=10)))
    svc.create(ALICE, CreateVolume(size_gb=6))
    with pytest.raises(StorageQuotaExceeded) as err:
        svc.create(BOB, CreateVolume(size_gb=6))
    assert "group physics" in err.value.message and "quota: 10 GiB, used: 6" in err.value.message
    assert uow.storage_quotas.usage(QuotaSubject(SubjectKind.USER, "bob")) == StorageUsage()
    assert uow.storage_quotas.usage(PHYSICS_Q) == StorageUsage(1, 6)
    assert len(backend.calls) == 1


def test_user_quota_on_volume_count_names_the_user(
    uow: InMemoryStorageUnitOfWork, backend: RecordingBackend
) -> None:
    uow.storage_quotas.set_limit(ALICE_Q, StorageQuota(max_volumes=1))
    svc = make_service(uow, backend)
    svc.create(ALICE, CreateVolume(size_gb=1))
    with pytest.raises(StorageQuotaExceeded, match="user alice.*quota: 1 volumes"):
        svc.create(ALICE, CreateVolume(size_gb=1))


def test_delete_releases_quota_and_usage_never_goes_negative(
    svc: VolumeService, uow: InMemoryStorageUnitOfWork, backend: RecordingBackend
) -> None:
    v = svc.create(ALICE, CreateVolume(size_gb=3))
    svc.delete(ALICE, v.uuid)
    assert ("delete", v.uuid) in backend.calls
    assert uow.storage_quotas.usage(ALICE_Q) == StorageUsage(0, 0)
    with pytest.raises(NotFound):
        svc.delete(ALICE, v.uuid)
    from stratuslab.core.volumes import UsageDelta

    uow.storage_quotas.release(ALICE_Q, UsageDelta(1, 3))
    assert uow.storage_quotas.usage(ALICE_Q) == StorageUsage(0, 0)


def test_another_users_private_volume_is_not_found_and_public_one_is_forbidden_to_delete(
    svc: VolumeService,
) -> None:
    private = svc.create(ALICE, CreateVolume(size_gb=1))
    public = svc.create(ALICE, CreateVolume(size_gb=1, visibility="public"))
    for action in (svc.get, svc.delete):
        with pytest.raises(NotFound):
            action(BOB, private.uuid)
    assert [v.uuid for v in svc.describe(BOB)] == [public.uuid]
    with pytest.raises(Forbidden):
        svc.delete(BOB, public.uuid)
    assert {v.uuid for v in svc.describe(ADMIN)} == {private.uuid, public.uuid}


def test_describe_applies_and_combined_filters(svc: VolumeService) -> None:
    a = svc.create(ALICE, CreateVolume(size_gb=1, tag="db-prod"))
    svc.create(ALICE, CreateVolume(size_gb=2, tag="db-test"))
    svc.create(ALICE, CreateVolume(size_gb=1, tag="scratch"))
    assert [v.uuid for v in svc.describe(ALICE, filters=["tag:^db", "size:^1$"])] == [a.uuid]


def test_writable_volume_attaches_once_and_refusal_names_the_holder(
    svc: VolumeService, backend: RecordingBackend
) -> None:
    v = svc.create(ALICE, CreateVolume(size_gb=1))
    plan = svc.attach(ALICE, v.uuid, 17)
    assert plan.source.startswith("iscsi://") and plan.format == "raw" and not plan.readonly
    assert plan.disk_name == "vol-" + v.uuid.replace("-", "")[:16]
    with pytest.raises(VolumeAttached) as err:
        svc.attach(ALICE, v.uuid, 18)
    assert err.value.full_message == (
        f"volume {v.uuid} is attached to VM 17; "
        f"detach it first: stratus detach-volume -i 17 {v.uuid}"
    )
    assert svc.attach(ALICE, v.uuid, 17).vm_id == 17  # the same VM again: idempotent


def test_deleting_an_attached_volume_is_refused_until_detached(
    svc: VolumeService, backend: RecordingBackend
) -> None:
    v = svc.create(ALICE, CreateVolume(size_gb=1))
    svc.attach(ALICE, v.uuid, 17)
    svc.attached(v.uuid, 17, "vdb")
    with pytest.raises(VolumeAttached, match="detach-volume -i 17"):
        svc.delete(ALICE, v.uuid)
    svc.detach(ALICE, v.uuid, 17)
    assert v.uuid not in backend.exported
    svc.delete(ALICE, v.uuid)


def test_readonly_volume_is_shared_by_many_vms(svc: VolumeService) -> None:
    v = svc.create(ALICE, CreateVolume(size_gb=1, readonly=True, visibility="public"))
    assert svc.attach(ALICE, v.uuid, 1).readonly
    assert svc.attach(BOB, v.uuid, 2).readonly
    assert svc.get(ALICE, v.uuid).attached_to == (1, 2)
    svc.detach(ALICE, v.uuid, 1)
    assert svc.get(ALICE, v.uuid).attached_to == (2,)


def test_making_an_attached_volume_writable_is_refused(svc: VolumeService) -> None:
    v = svc.create(ALICE, CreateVolume(size_gb=1, readonly=True))
    svc.attach(ALICE, v.uuid, 1)
    with pytest.raises(VolumeAttached):
        svc.update(ALICE, v.uuid, UpdateVolume(readonly=False))
    assert svc.update(ALICE, v.uuid, UpdateVolume(tag="t", visibility="public")).tag == "t"


def test_failed_export_forgets_the_attachment(
    svc: VolumeService, backend: RecordingBackend
) -> None:
    v = svc.create(ALICE, CreateVolume(size_gb=1))
    backend.fail.add("export")
    with pytest.raises(DriverError):
        svc.attach(ALICE, v.uuid, 5)
    assert svc.get(ALICE, v.uuid).attached_to == ()


def test_two_threads_attaching_concurrently_only_one_wins(svc: VolumeService) -> None:
    v = svc.create(ALICE, CreateVolume(size_gb=1))
    barrier = threading.Barrier(8)
    won: list[int] = []
    lost: list[str] = []

    def attach(vm_id: int) -> None:
        barrier.wait()
        try:
            svc.attach(ALICE, v.uuid, vm_id)
            won.append(vm_id)
        except VolumeAttached as exc:
            lost.append(exc.full_message)

    threads = [threading.Thread(target=attach, args=(vm,)) for vm in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(lost) == 7
    assert all(f"attached to VM {won[0]};" in msg for msg in lost)
    assert svc.get(ALICE, v.uuid).attached_to == (won[0],)


def _race(*calls: Callable[[], object]) -> list[object]:
    """Run `calls` in threads released together; each result or CloudError, in order."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except CloudError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_delete_racing_an_attach_never_deletes_an_attached_volume(svc: VolumeService) -> None:
    for _ in range(20):
        uuid = svc.create(ALICE, CreateVolume(size_gb=1)).uuid
        attach, delete = _race(
            lambda u=uuid: svc.attach(ALICE, u, 7), lambda u=uuid: svc.delete(ALICE, u)
        )
        assert isinstance(attach, CloudError) != isinstance(delete, CloudError), (attach, delete)


def test_cow_child_of_a_volume_gets_the_parent_location_and_at_least_its_size(
    svc: VolumeService, backend: RecordingBackend
) -> None:
    parent = svc.create(ALICE, CreateVolume(size_gb=4, visibility="public"))
    child = svc.create(BOB, CreateVolume(size_gb=1, parent_volume=parent.uuid))
    assert child.parent == f"volume:{parent.uuid}" and child.size_gb == 4
    assert backend.calls[-1] == ("create", child.uuid, "4", parent.location, "raw")


def test_root_volume_from_image_is_quarantined_and_volatile_deleted_when_vm_ends(
    svc: VolumeService, backend: RecordingBackend
) -> None:
    image = ImageParent(image_id=3, path="/cache/ttylinux.qcow2", format="qcow2")
    root = svc.create(
        ALICE, CreateVolume(size_gb=1, parent_image=image, kind=VolumeKind.ROOT, vm_id=9)
    )
    scratch = svc.create(ALICE, CreateVolume(size_gb=2, kind=VolumeKind.VOLATILE, vm_id=9))
    data = svc.create(ALICE, CreateVolume(size_gb=1))
    svc.attach(ALICE, root.uuid, 9)
    svc.attach(ALICE, data.uuid, 9)
    assert root.parent == "image:3"
    svc.release_vm(9)
    assert svc.get(ALICE, root.uuid).state == VolumeState.QUARANTINED
    assert svc.get(ALICE, root.uuid).quarantined_at is not None
    with pytest.raises(NotFound):
        svc.get(ALICE, scratch.uuid)
    kept = svc.get(ALICE, data.uuid)
    assert kept.state == VolumeState.READY and kept.attached_to == () and kept.owner == "alice"
    svc.release_vm(9)  # idempotent


def test_volume_with_cow_children_cannot_be_deleted_before_them(svc: VolumeService) -> None:
    parent = svc.create(ALICE, CreateVolume(size_gb=1))
    child = svc.create(ALICE, CreateVolume(size_gb=1, parent_volume=parent.uuid))
    with pytest.raises(
        VolumeHasChildren, match=f"delete them first: stratus delete-volume {child.uuid}"
    ):
        svc.delete(ALICE, parent.uuid)
    svc.delete(ALICE, child.uuid)
    svc.delete(ALICE, parent.uuid)


def test_quarantined_root_is_purged_after_the_retention_only(
    svc: VolumeService, backend: RecordingBackend, uow: InMemoryStorageUnitOfWork
) -> None:
    root = svc.create(ALICE, CreateVolume(size_gb=2, kind=VolumeKind.ROOT, vm_id=4))
    svc.release_vm(4)
    quarantined_at = svc.get(ALICE, root.uuid).quarantined_at
    assert quarantined_at is not None
    assert svc.purge_quarantine(datetime(2026, 11, 21, tzinfo=UTC)) == []
    (purged,) = svc.purge_quarantine(quarantined_at)
    assert purged.uuid == root.uuid and ("delete", root.uuid) in backend.calls
    assert uow.storage_quotas.usage(ALICE_Q) == StorageUsage(0, 0)


def test_reexport_after_a_storage_restart_exports_attached_volumes_only(
    svc: VolumeService, backend: RecordingBackend
) -> None:
    attached = svc.create(ALICE, CreateVolume(size_gb=1))
    svc.create(ALICE, CreateVolume(size_gb=1))
    svc.attach(ALICE, attached.uuid, 3)
    backend.exported.clear()
    assert svc.reexport_attached() == 1
    assert backend.exported == {attached.uuid}
