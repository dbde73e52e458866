"""The SQLAlchemy NetworkRepo keeps one lease per (network, address) under concurrent IPAM: each
acquire runs in its own unit of work; a lost race is a Conflict inside a SAVEPOINT, IPAM moves on
to the next address and the transaction survives.  SQLite, and PostgreSQL (a private cluster,
tests/helpers/postgres.py) for the race."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from tests.helpers.cloud import reset_database

from stratuslab.core.errors import Conflict
from stratuslab.core.network import AddressRange, Network, SecurityGroup, SegmentKind
from stratuslab.persistence import db
from stratuslab.persistence.network import SqlNetworkRepo
from stratuslab.persistence.uow import SqlUnitOfWorkFactory
from stratuslab.services.network import Ipam, SegmentPool, create_network, parse_rule

POOL = SegmentPool(SegmentKind.VXLAN, 100, 200)


def make_uow(url: str) -> SqlUnitOfWorkFactory:
    engine = db.make_engine(url)
    db.upgrade(engine)
    uow = SqlUnitOfWorkFactory(engine)
    uow.register("networks", SqlNetworkRepo)
    return uow


def assert_leases_race_safely(uow: SqlUnitOfWorkFactory, threads: int = 6, each: int = 5) -> None:
    size = threads * each
    with uow() as u:
        create_network(u.repo("networks"), Network(
            "race", "10.77.0.0/24", (AddressRange("10.77.0.10", f"10.77.0.{9 + size}"),)), POOL)
        u.commit()
    got: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def worker(n: int) -> None:
        barrier.wait()
        try:
            for i in range(each):
                with uow() as u:
                    lease = Ipam().acquire(u.repo("networks"), "race", vm_id=n * 100 + i, owner="a")
                    u.commit()
                got.append(lease.ip)
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(120)
    assert not errors, errors
    assert len(got) == size == len(set(got))
    with uow() as u, pytest.raises(Conflict, match="network race has no free address"):
        Ipam().acquire(u.repo("networks"), "race", vm_id=9999, owner="a")


def test_concurrent_acquires_never_duplicate_an_address_sqlite(tmp_path: Path) -> None:
    assert_leases_race_safely(make_uow(f"sqlite:///{tmp_path / 'db.sqlite'}"))


@pytest.mark.integration
def test_concurrent_acquires_never_duplicate_an_address_postgresql(postgres_url: str) -> None:
    reset_database(postgres_url)
    uow = make_uow(postgres_url)
    assert_leases_race_safely(uow, threads=8, each=6)
    uow.engine.dispose()


def test_rows_round_trip_networks_groups_and_reservations(tmp_path: Path) -> None:
    uow = make_uow(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with uow() as u:
        repo = u.repo("networks")
        made = create_network(repo, Network("n", "10.5.0.0/24", (AddressRange("10.5.0.10", "10.5.0.20"),),
                                            gateway="10.5.0.1", dns=("10.5.0.2",)), POOL)
        group = repo.add_group(SecurityGroup("web", "alice", (parse_rule("inbound tcp 80-90 10.0.0.0/8"),)))
        with pytest.raises(Conflict):
            repo.add_group(SecurityGroup("web", "alice"))
        res, leases = Ipam().reserve(repo, "n", owner="alice", count=2)
        u.commit()
    with uow() as u:
        repo = u.repo("networks")
        assert repo.get_network("n") == made
        assert repo.get_group("alice", "web") == group
        assert repo.reservations("alice") == [res]
        assert repo.leases_for_reservation(res.id or 0) == leases
        assert repo.count_leases("alice") == 2
