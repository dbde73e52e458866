"""The contract of VolumeRepo / StorageQuotaRepo (core/volumes.py), run against every
implementation: the in-memory fake and the SQLAlchemy repositories on SQLite (each entry of
`IMPLEMENTATIONS` takes a scratch directory and returns a fresh unit-of-work factory on an empty
database whose `repo("volumes")` and `repo("storage_quotas")` are registered), and on
PostgreSQL (the `postgresql` parameter: a private cluster, see tests/helpers/postgres.py).

Every check that matters for safety is a race: threads released together through a barrier,
each in its own unit of work, and exactly one may win.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.cloud import reset_database

from stratuslab.core.volumes import (
    Attachment,
    QuotaSubject,
    StorageQuota,
    StorageUsage,
    SubjectKind,
    UsageDelta,
    Volume,
    VolumeState,
)
from stratuslab.persistence import db
from stratuslab.persistence.uow import SqlUnitOfWorkFactory
from stratuslab.persistence.volumes import SqlStorageQuotaRepo, SqlVolumeRepo
from stratuslab.services.storage.memory import InMemoryStorageUnitOfWork

UowFactory = Callable[[], Any]  # () -> a unit of work: with-block, commit(), repo(name)



def sql_uow(url: str) -> SqlUnitOfWorkFactory:
    """A migrated database at `url` with the two storage repositories registered."""
    engine = db.make_engine(url)
    db.upgrade(engine)
    factory = SqlUnitOfWorkFactory(engine)
    factory.register("volumes", SqlVolumeRepo)
    factory.register("storage_quotas", SqlStorageQuotaRepo)
    return factory


IMPLEMENTATIONS: dict[str, Callable[[Path], UowFactory]] = {
    "memory": lambda _tmp: InMemoryStorageUnitOfWork(),
    "sqlite": lambda tmp: sql_uow(f"sqlite:///{tmp / 'volumes.db'}"),
}
U1 = "3f2a0c1e-0000-4000-8000-000000000001"
ALICE = QuotaSubject(SubjectKind.USER, "alice")


@pytest.fixture(params=[*sorted(IMPLEMENTATIONS),
                        pytest.param("postgresql", marks=pytest.mark.integration)])
def uow(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UowFactory]:
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        reset_database(url)
        factory: Any = sql_uow(url)
    else:
        factory = IMPLEMENTATIONS[request.param](tmp_path)
    yield factory
    engine = getattr(factory, "engine", None)
    if engine is not None:
        engine.dispose()


def add_ready(uow: UowFactory, uuid: str = U1, **kw: Any) -> None:
    with uow() as u:
        u.repo("volumes").add(
            Volume(uuid=uuid, owner="alice", group="physics", size_gb=1, pool="p", **kw)
        )
        assert u.repo("volumes").cas_state(uuid, VolumeState.CREATING, VolumeState.READY)
        u.commit()


def race(n: int, fn: Callable[[int], bool]) -> list[bool]:
    barrier = threading.Barrier(n)
    results = [False] * n

    def run(i: int) -> None:
        barrier.wait()
        results[i] = fn(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_exclusive_attaches_exactly_one_wins(uow: UowFactory) -> None:
    add_ready(uow)

    def attach(i: int) -> bool:
        with uow() as u:
            refusal = u.repo("volumes").try_attach(Attachment(U1, 100 + i), exclusive=True)
            u.commit()
            return refusal is None

    assert sum(race(6, attach)) == 1
    with uow() as u:
        (att,) = u.repo("volumes").attachments(U1)
        refusal = u.repo("volumes").try_attach(Attachment(U1, 999), exclusive=True)
        assert refusal is not None and refusal.holder == att.vm_id
        assert u.repo("volumes").get(U1).attached_to == (att.vm_id,)


def test_same_vm_attaching_again_changes_nothing(uow: UowFactory) -> None:
    add_ready(uow)
    with uow() as u:
        assert u.repo("volumes").try_attach(Attachment(U1, 7), exclusive=True) is None
        assert u.repo("volumes").try_attach(Attachment(U1, 7), exclusive=True) is None
        u.repo("volumes").set_device(U1, 7, "vdb")
        assert u.repo("volumes").attachments(U1) == [Attachment(U1, 7, device="vdb")]
        u.commit()


def test_shared_attachments_coexist_but_exclude_a_writer(uow: UowFactory) -> None:
    add_ready(uow, readonly=True)
    with uow() as u:
        assert (
            u.repo("volumes").try_attach(Attachment(U1, 1, readonly=True), exclusive=False) is None
        )
        assert (
            u.repo("volumes").try_attach(Attachment(U1, 2, readonly=True), exclusive=False) is None
        )
        refusal = u.repo("volumes").try_attach(Attachment(U1, 3), exclusive=True)
        assert refusal is not None and refusal.holder in (1, 2)
        assert [a.vm_id for a in u.repo("volumes").attachments_of_vm(2)] == [2]
        assert u.repo("volumes").detach(U1, 1) and not u.repo("volumes").detach(U1, 1)
        assert u.repo("volumes").get(U1).attached_to == (2,)
        u.commit()


def test_attach_to_a_volume_not_ready_is_refused_with_its_state(uow: UowFactory) -> None:
    with uow() as u:
        u.repo("volumes").add(Volume(uuid=U1, owner="a", group="g", size_gb=1, pool="p"))
        refusal = u.repo("volumes").try_attach(Attachment(U1, 1), exclusive=True)
        assert refusal is not None and refusal.state == VolumeState.CREATING
        assert refusal.holder is None
        u.commit()


def test_delete_guard_and_attach_race_exactly_one_wins(uow: UowFactory) -> None:
    for n in range(10):
        uuid = f"3f2a0c1e-0000-4000-8000-{n:012d}"
        add_ready(uow, uuid)

        def act(i: int, uuid: str = uuid) -> bool:
            with uow() as u:
                if i == 0:
                    ok = u.repo("volumes").try_attach(Attachment(uuid, 5), exclusive=True) is None
                else:
                    ok = u.repo("volumes").cas_state(
                        uuid, VolumeState.READY, VolumeState.DELETING, require_detached=True
                    )
                u.commit()
                return ok

        assert sum(race(2, act)) == 1


def test_deleted_volumes_disappear_from_get_and_list(uow: UowFactory) -> None:
    add_ready(uow)
    with uow() as u:
        assert u.repo("volumes").cas_state(U1, VolumeState.READY, VolumeState.DELETING)
        assert u.repo("volumes").cas_state(U1, VolumeState.DELETING, VolumeState.DELETED)
        assert u.repo("volumes").get(U1) is None and u.repo("volumes").list() == []
        u.commit()


def test_list_shows_own_and_public_volumes(uow: UowFactory) -> None:
    with uow() as u:
        u.repo("volumes").add(Volume(uuid=U1, owner="alice", group="g", size_gb=1, pool="p"))
        other = U1[:-1] + "2"
        u.repo("volumes").add(
            Volume(uuid=other, owner="bob", group="g", size_gb=1, pool="p", visibility="public")
        )
        assert {v.uuid for v in u.repo("volumes").list(owner="alice")} == {U1, other}
        assert {v.uuid for v in u.repo("volumes").list(owner="alice", include_public=False)} == {U1}
        assert {v.uuid for v in u.repo("volumes").list()} == {U1, other}
        u.commit()


def test_quota_charges_are_conditional_and_never_exceed_the_limit(uow: UowFactory) -> None:
    quota = StorageQuota(max_gb=10)

    def charge(i: int) -> bool:
        with uow() as u:
            ok = bool(u.repo("storage_quotas").try_charge(ALICE, UsageDelta(1, 3), quota))
            u.commit()
            return ok

    assert sum(race(6, charge)) == 3
    with uow() as u:
        assert u.repo("storage_quotas").usage(ALICE) == StorageUsage(3, 9)
        u.repo("storage_quotas").release(ALICE, UsageDelta(5, 50))
        assert u.repo("storage_quotas").usage(ALICE) == StorageUsage(0, 0)
        u.repo("storage_quotas").set_limit(ALICE, StorageQuota(max_volumes=2))
        assert u.repo("storage_quotas").limit(ALICE) == StorageQuota(max_volumes=2)
        u.commit()
