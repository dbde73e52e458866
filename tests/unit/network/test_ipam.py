"""IPAM on the in-memory repository: leases, holds, reservations, quotas and every refusal."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from stratuslab.core.errors import CloudError, Conflict, InvalidInput, NotFound, QuotaExceeded
from stratuslab.core.network import AddressRange, Ipv6Mode, Network, SegmentKind, eui64, mac_for
from stratuslab.services.network import (
    Ipam,
    SegmentPool,
    add_range,
    create_network,
    ensure_default_networks,
    lease_message,
)
from stratuslab.services.network.memory import InMemoryNetworkRepo

POOL = SegmentPool(SegmentKind.VXLAN, 100, 102)


def small(name: str = "net", size: int = 4, **kw: object) -> Network:
    return Network(
        name=name,
        subnet="10.9.0.0/24",
        ranges=(AddressRange("10.9.0.10", f"10.9.0.{9 + size}"),),
        gateway="10.9.0.1",
        ipv6_prefix="fd00:9::/64",
        ipv6_mode=Ipv6Mode.SLAAC,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def repo() -> InMemoryNetworkRepo:
    r = InMemoryNetworkRepo()
    create_network(r, small(), POOL)
    return r


ipam = Ipam()


def test_acquire_takes_first_free_address_with_mac_from_prefix_and_slaac_ipv6(repo):
    lease = ipam.acquire(repo, "net", vm_id=1, owner="alice")
    assert lease.ip == "10.9.0.10"
    assert lease.mac == "02:00:0a:09:00:0a" == mac_for("02:00", "10.9.0.10")
    assert lease.ipv6 == eui64("fd00:9::/64", lease.mac) == "fd00:9::aff:fe09:a"
    assert ipam.acquire(repo, "net", vm_id=2, owner="alice").ip == "10.9.0.11"


def test_requested_address_is_honoured(repo):
    assert ipam.acquire(repo, "net", vm_id=1, owner="a", ip="10.9.0.12").ip == "10.9.0.12"


def test_requested_address_outside_every_range_is_refused_naming_network_and_ranges(repo):
    with pytest.raises(InvalidInput, match=r"10\.9\.0\.99 is outside every range of network net"):
        ipam.acquire(repo, "net", vm_id=1, owner="a", ip="10.9.0.99")


def test_requested_address_already_leased_or_held_is_refused(repo):
    ipam.acquire(repo, "net", vm_id=1, owner="a", ip="10.9.0.10")
    with pytest.raises(Conflict, match="already leased to VM 1"):
        ipam.acquire(repo, "net", vm_id=2, owner="a", ip="10.9.0.10")
    ipam.hold(repo, "net", "10.9.0.11", "router")
    with pytest.raises(Conflict, match=r"on hold \(router\)"):
        ipam.acquire(repo, "net", vm_id=2, owner="a", ip="10.9.0.11")


def test_held_address_is_skipped_by_automatic_choice(repo):
    ipam.hold(repo, "net", "10.9.0.10")
    assert ipam.acquire(repo, "net", vm_id=1, owner="a").ip == "10.9.0.11"
    ipam.release_hold(repo, "net", "10.9.0.10")
    assert ipam.acquire(repo, "net", vm_id=2, owner="a").ip == "10.9.0.10"


def test_full_network_is_refused_with_usage_and_way_out(repo):
    for vm in range(4):
        ipam.acquire(repo, "net", vm_id=vm, owner="a")
    with pytest.raises(Conflict, match="network net has no free address") as err:
        ipam.acquire(repo, "net", vm_id=9, owner="a")
    assert "stratus network list" in str(err.value)


def test_release_returns_leases_to_pool_exactly_once(repo):
    ipam.acquire(repo, "net", vm_id=1, owner="a")
    released = ipam.release_vm(repo, 1)
    assert [le.ip for le in released] == ["10.9.0.10"]
    assert ipam.release_vm(repo, 1) == []
    assert ipam.usage(repo, "net").leases_used == 0
    assert lease_message(released[0], acquired=False).startswith("released lease (NETWORK=net")


def test_reservation_is_consumed_by_vms_and_returns_to_reservation_after_kill(repo):
    res, leases = ipam.reserve(repo, "net", owner="alice", count=2)
    assert len(leases) == 2 and all(le.vm_id is None for le in leases)
    assert ipam.usage(repo, "net").reserved_free == 2
    lease = ipam.acquire(repo, "net", vm_id=5, owner="alice", reservation_id=res.id)
    assert lease.ip in {le.ip for le in leases} and lease.vm_id == 5
    ipam.release_vm(repo, 5)
    assert repo.get_lease("net", lease.ip).reservation_id == res.id  # still reserved
    by_ip = ipam.acquire(repo, "net", vm_id=6, owner="alice", ip=leases[1].ip)
    assert by_ip.reservation_id == res.id
    with pytest.raises(Conflict, match="already leased to another user's reservation"):
        ipam.acquire(repo, "net", vm_id=7, owner="bob", ip=leases[0].ip)
    with pytest.raises(NotFound, match="reservation"):  # another's: 404, as everywhere
        ipam.acquire(repo, "net", vm_id=7, owner="bob", reservation_id=res.id)


def test_reserving_more_than_the_pool_has_is_refused(repo):
    with pytest.raises(InvalidInput, match="network net has 4 addresses in all; cannot reserve 5"):
        ipam.reserve(repo, "net", owner="a", count=5)
    ipam.acquire(repo, "net", vm_id=1, owner="b")
    with pytest.raises(Conflict, match="3 free addresses of 4; cannot reserve 4"):
        ipam.reserve(repo, "net", owner="a", count=4)


def test_reservation_counts_against_lease_quota(repo):
    ipam.reserve(repo, "net", owner="a", count=2, quota=3)
    with pytest.raises(QuotaExceeded, match="user a holds 2 leases of a quota of 3"):
        ipam.reserve(repo, "net", owner="a", count=2, quota=3)
    ipam.acquire(repo, "net", vm_id=1, owner="a", quota=3)
    with pytest.raises(QuotaExceeded):
        ipam.acquire(repo, "net", vm_id=2, owner="a", quota=3)


def test_reservation_in_use_cannot_be_released(repo):
    res, _ = ipam.reserve(repo, "net", owner="a", count=1)
    ipam.acquire(repo, "net", vm_id=3, owner="a", reservation_id=res.id)
    with pytest.raises(Conflict, match="in use by VM 3"):
        ipam.release_reservation(repo, res.id, "a")
    ipam.release_vm(repo, 3)
    ipam.release_reservation(repo, res.id, "a")
    assert repo.leases("net") == []


def test_overlapping_ranges_are_refused():
    repo = InMemoryNetworkRepo()
    net = small(name="x")
    bad = Network(
        name="x",
        subnet=net.subnet,
        ranges=(
            AddressRange.parse("10.9.0.10-10.9.0.20"),
            AddressRange.parse("10.9.0.15-10.9.0.30"),
        ),
    )
    with pytest.raises(InvalidInput, match="range 10.9.0.10-10.9.0.20 overlaps range"):
        create_network(repo, bad, POOL)
    create_network(repo, net, POOL)
    with pytest.raises(InvalidInput, match="overlaps"):
        add_range(repo, "x", AddressRange.parse("10.9.0.12-10.9.0.40"))
    assert add_range(repo, "x", AddressRange.parse("10.9.0.100-10.9.0.109")).size == 14


def test_range_outside_subnet_and_gateway_inside_range_are_refused():
    repo = InMemoryNetworkRepo()
    outside = Network(name="o", subnet="10.9.0.0/24", ranges=(AddressRange.parse("10.9.1.0/28"),))
    with pytest.raises(InvalidInput, match="not inside the usable part of subnet"):
        create_network(repo, outside, POOL)
    gw = Network(
        name="g",
        subnet="10.9.0.0/24",
        ranges=(AddressRange.parse("10.9.0.0/24"),),
        gateway="10.9.0.1",
    )
    with pytest.raises(InvalidInput, match="gateway 10.9.0.1 must be in"):
        create_network(repo, gw, POOL)


@pytest.mark.parametrize(
    ("kind", "seg", "limits"),
    [
        (SegmentKind.VLAN, 0, "1 to 4094"),
        (SegmentKind.VLAN, 4095, "1 to 4094"),
        (SegmentKind.VXLAN, 0, "1 to 16777215"),
        (SegmentKind.VXLAN, 16_777_216, "1 to 16777215"),
    ],
)
def test_segment_id_out_of_range_is_refused(kind, seg, limits):
    with pytest.raises(InvalidInput, match=f"segment id {seg} is out of range.*{limits}"):
        create_network(InMemoryNetworkRepo(), small(segment_kind=kind, segment_id=seg), POOL)


def test_segment_ids_come_from_the_pool_and_are_never_shared():
    repo = InMemoryNetworkRepo()
    got = [create_network(repo, small(name=f"n{i}"), POOL).segment_id for i in range(3)]
    assert got == [100, 101, 102]
    with pytest.raises(Conflict, match="every vxlan id of the pool 100-102 is in use"):
        create_network(repo, small(name="n3"), POOL)
    with pytest.raises(Conflict, match="already used by network n0"):
        create_network(repo, small(name="n4", segment_id=100), POOL)


def test_segment_pool_outside_limits_is_refused():
    with pytest.raises(InvalidInput, match="outside the vlan ids 1-4094"):
        SegmentPool.parse("vlan", "4000-5000")
    assert SegmentPool.parse("vxlan", "5000-6000").last == 6000


def test_default_classes_are_created_once_from_settings_tables():
    repo = InMemoryNetworkRepo()
    made = ensure_default_networks(repo, {}, POOL)
    assert [n.name for n in made] == ["public", "local", "private"]
    assert {n.address_class.value for n in made} == {"public", "local", "private"}
    assert ensure_default_networks(repo, {}, POOL) == []
    custom = ensure_default_networks(
        InMemoryNetworkRepo(),
        {"public": {"subnet": "192.0.2.0/28", "ranges": ["192.0.2.2-192.0.2.14"], "segment_id": 7}},
        POOL,
    )
    assert custom[0].size == 13 and custom[0].segment_id == 7


def test_unknown_settings_key_is_named():
    with pytest.raises(CloudError, match="unknown key 'subnett'"):
        ensure_default_networks(InMemoryNetworkRepo(), {"x": {"subnett": "10.0.0.0/24"}}, POOL)


def test_concurrent_acquires_never_lease_an_address_twice():
    repo = InMemoryNetworkRepo()
    create_network(repo, small(size=40), POOL)
    results: list[str] = []
    errors: list[Exception] = []
    barrier = threading.Barrier(8)

    def worker(base: int) -> None:
        barrier.wait()
        for i in range(6):
            try:
                results.append(ipam.acquire(repo, "net", vm_id=base * 10 + i, owner="a").ip)
            except Conflict as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(b,)) for b in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 40 and len(set(results)) == 40
    assert len(errors) == 8 and all("no free address" in str(e) for e in errors)


def test_a_down_network_refuses_leases_and_reservations(repo):
    repo.update_network(dataclasses.replace(repo.get_network("net"), enabled=False))
    with pytest.raises(CloudError, match="network net is down; cannot give new addresses"):
        ipam.acquire(repo, "net", vm_id=1, owner="a")
    with pytest.raises(CloudError, match="is down"):
        ipam.reserve(repo, "net", owner="a", count=1)
    repo.update_network(dataclasses.replace(repo.get_network("net"), enabled=True))
    assert ipam.acquire(repo, "net", vm_id=1, owner="a").ip == "10.9.0.10"
