"""IPAM rules one at a time, each refusal with its whole message and hint (what a user reads),
each limit on both sides of its edge: quotas, reservation sizes, races for an address, holds,
reservations taken by address, and the lease records themselves."""

from __future__ import annotations

import pytest

from stratuslab.core.errors import (
    CloudError,
    Conflict,
    InvalidInput,
    NotFound,
    QuotaExceeded,
)
from stratuslab.core.network import AddressRange, Ipv6Mode, Lease, Network, SegmentKind
from stratuslab.services.network import Ipam, SegmentPool, create_network, lease_message
from stratuslab.services.network.memory import InMemoryNetworkRepo

POOL = SegmentPool(SegmentKind.VXLAN, 100, 102)
ipam = Ipam()


def net(name: str = "net", *ranges: tuple[str, str], v6: bool = True) -> Network:
    return Network(name=name, subnet="10.9.0.0/24",
                   ranges=tuple(AddressRange(a, b) for a, b in ranges)
                   or (AddressRange("10.9.0.10", "10.9.0.13"),),
                   gateway="10.9.0.1", ipv6_prefix="fd00:9::/64" if v6 else None,
                   ipv6_mode=Ipv6Mode.SLAAC if v6 else Ipv6Mode.NONE)


@pytest.fixture
def repo() -> InMemoryNetworkRepo:
    r = InMemoryNetworkRepo()
    create_network(r, net(), POOL)
    return r


def why(exc: pytest.ExceptionInfo[CloudError]) -> tuple[str, str]:
    return exc.value.message, exc.value.hint


class RacingRepo(InMemoryNetworkRepo):
    """Another front end wins the next `losses` inserts: each add_lease first stores the
    address for a VM 999 of its own, then refuses ours as the real repository would."""

    def __init__(self, losses: int) -> None:
        super().__init__()
        self.losses = losses

    def add_lease(self, lease: Lease) -> None:
        if self.losses > 0:
            self.losses -= 1
            super().add_lease(Lease(lease.network, lease.ip, lease.mac, vm_id=999, owner="x"))
        super().add_lease(lease)


# --- lease records ------------------------------------------------------------------------------

def test_a_lease_records_vm_nic_owner_and_its_addresses(repo: InMemoryNetworkRepo) -> None:
    lease = ipam.acquire(repo, "net", vm_id=7, owner="alice", nic_index=2)
    assert lease == Lease("net", "10.9.0.10", "02:00:0a:09:00:0a", "fd00:9::aff:fe09:a",
                          vm_id=7, nic_index=2, owner="alice")
    assert repo.get_lease("net", "10.9.0.10") == lease
    assert lease_message(lease, acquired=True) == (
        "acquired lease (NETWORK=net, IP=10.9.0.10, IP6=fd00:9::aff:fe09:a, "
        "MAC=02:00:0a:09:00:0a)")
    plain = Lease("n", "10.0.0.5", "02:00:0a:00:00:05")
    assert lease_message(plain, acquired=False) == (
        "released lease (NETWORK=n, IP=10.0.0.5, MAC=02:00:0a:00:00:05)")


def test_addresses_are_taken_range_after_range_in_order() -> None:
    repo = InMemoryNetworkRepo()
    create_network(repo, net("two", ("10.9.0.20", "10.9.0.20"), ("10.9.0.30", "10.9.0.31"),
                             v6=False), POOL)
    ips = [ipam.acquire(repo, "two", vm_id=v, owner="a").ip for v in range(3)]
    assert ips == ["10.9.0.20", "10.9.0.30", "10.9.0.31"]
    assert repo.get_lease("two", "10.9.0.30").ipv6 is None  # type: ignore[union-attr]


def test_a_requested_address_is_leased_as_asked(repo: InMemoryNetworkRepo) -> None:
    lease = ipam.acquire(repo, "net", vm_id=3, owner="bob", nic_index=1, ip="10.9.0.12")
    assert (lease.ip, lease.vm_id, lease.nic_index, lease.owner, lease.reservation_id) == (
        "10.9.0.12", 3, 1, "bob", None)
    assert repo.get_lease("net", "10.9.0.12") == lease


# --- refusals of a requested address ------------------------------------------------------------

def test_requested_addresses_that_cannot_be_leased_say_why(repo: InMemoryNetworkRepo) -> None:
    with pytest.raises(InvalidInput) as bad:
        ipam.acquire(repo, "net", vm_id=1, owner="a", ip="10.9.0.x")
    assert why(bad) == ("'10.9.0.x' is not an IPv4 address", "")
    with pytest.raises(InvalidInput) as outside:
        ipam.acquire(repo, "net", vm_id=1, owner="a", ip="10.9.0.14")
    assert why(outside) == (
        "address 10.9.0.14 is outside every range of network net (10.9.0.10-10.9.0.13)",
        "ask for an address inside one of these ranges, or omit it to get a free one")
    ipam.hold(repo, "net", "10.9.0.11", "router")
    ipam.hold(repo, "net", "10.9.0.12")
    with pytest.raises(Conflict) as held:
        ipam.acquire(repo, "net", vm_id=1, owner="a", ip="10.9.0.11")
    assert why(held) == ("address 10.9.0.11 of network net is on hold (router)",
                         "ask for another address, or omit it to get a free one")
    with pytest.raises(Conflict) as held_silently:
        ipam.acquire(repo, "net", vm_id=1, owner="a", ip="10.9.0.12")
    assert held_silently.value.message == "address 10.9.0.12 of network net is on hold"
    ipam.acquire(repo, "net", vm_id=4, owner="a", ip="10.9.0.10")
    with pytest.raises(Conflict) as leased:
        ipam.acquire(repo, "net", vm_id=1, owner="a", ip="10.9.0.10")
    assert why(leased) == ("address 10.9.0.10 of network net is already leased to VM 4",
                           "ask for another address, or omit it to get a free one")


def test_a_reserved_address_goes_only_to_its_owner_and_only_while_free(
    repo: InMemoryNetworkRepo,
) -> None:
    res, [first, second] = ipam.reserve(repo, "net", owner="alice", count=2)
    with pytest.raises(Conflict) as other:
        ipam.acquire(repo, "net", vm_id=1, owner="bob", ip=first.ip)
    assert other.value.message == (f"address {first.ip} of network net is already leased to "
                                   "another user's reservation")
    taken = ipam.acquire(repo, "net", vm_id=1, owner="alice", nic_index=1, ip=first.ip, quota=2)
    assert taken == Lease(first.network, first.ip, first.mac, first.ipv6, vm_id=1, nic_index=1,
                          reservation_id=res.id, owner="alice")  # no quota taken twice
    assert repo.get_lease("net", first.ip) == taken
    with pytest.raises(Conflict, match="already leased to VM 1;"):
        ipam.acquire(repo, "net", vm_id=2, owner="alice", ip=first.ip)
    assert second.vm_id is None


# --- quotas -------------------------------------------------------------------------------------

def test_the_lease_quota_allows_exactly_its_number(repo: InMemoryNetworkRepo) -> None:
    ipam.acquire(repo, "net", vm_id=1, owner="a", quota=2)
    ipam.acquire(repo, "net", vm_id=2, owner="a", ip="10.9.0.13", quota=2)
    for kwargs in ({}, {"ip": "10.9.0.12"}):
        with pytest.raises(QuotaExceeded) as over:
            ipam.acquire(repo, "net", vm_id=3, owner="a", quota=2, **kwargs)  # type: ignore[arg-type]
        assert why(over) == (
            "user a holds 2 leases of a quota of 2; cannot take 1 more",
            "release a reservation or kill a VM, or ask the administrator for more")
    assert ipam.acquire(repo, "net", vm_id=3, owner="b", quota=1).vm_id == 3  # per owner
    res, _ = ipam.reserve(repo, "net", owner="c", count=1, quota=1)
    assert res.size == 1


def test_a_reservation_counts_every_address_against_the_quota(repo: InMemoryNetworkRepo) -> None:
    ipam.acquire(repo, "net", vm_id=1, owner="a")
    with pytest.raises(QuotaExceeded) as over:
        ipam.reserve(repo, "net", owner="a", count=2, quota=2)
    assert over.value.message == "user a holds 1 leases of a quota of 2; cannot take 2 more"
    assert ipam.usage(repo, "net").leases_used == 1  # nothing half-made


# --- reservations -------------------------------------------------------------------------------

def test_reservation_sizes_are_checked_against_the_network(repo: InMemoryNetworkRepo) -> None:
    with pytest.raises(InvalidInput) as zero:
        ipam.reserve(repo, "net", owner="a", count=0)
    assert why(zero) == ("cannot reserve 0 addresses", "ask for at least 1")
    with pytest.raises(InvalidInput) as too_many:
        ipam.reserve(repo, "net", owner="a", count=5)
    assert why(too_many) == ("network net has 4 addresses in all; cannot reserve 5",
                             "ask for at most 4, or add a range to the network")
    ipam.hold(repo, "net", "10.9.0.13")
    with pytest.raises(Conflict) as not_free:
        ipam.reserve(repo, "net", owner="a", count=4)
    assert why(not_free) == (
        "network net has 3 free addresses of 4; cannot reserve 4",
        "ask for at most 3, or use another network: stratus network list")
    res, leases = ipam.reserve(repo, "net", owner="a", count=3, name="web")
    assert (res.network, res.owner, res.size, res.name) == ("net", "a", 3, "web")
    assert [(le.ip, le.vm_id, le.reservation_id, le.owner) for le in leases] == [
        (f"10.9.0.1{i}", None, res.id, "a") for i in range(3)]


def test_a_launch_from_a_reservation_checks_its_network_and_address(
    repo: InMemoryNetworkRepo,
) -> None:
    create_network(repo, net("other", ("10.9.0.50", "10.9.0.51")), POOL)
    res, [first, second] = ipam.reserve(repo, "net", owner="a", count=2)
    with pytest.raises(InvalidInput) as wrong_net:
        ipam.acquire(repo, "other", vm_id=1, owner="a", reservation_id=res.id)
    assert why(wrong_net) == (f"reservation {res.id} is on network net, not other",
                              "launch on network net")
    by_ip = ipam.acquire(repo, "net", vm_id=1, owner="a", nic_index=3, reservation_id=res.id,
                         ip=second.ip)
    assert (by_ip.ip, by_ip.vm_id, by_ip.nic_index) == (second.ip, 1, 3)
    with pytest.raises(Conflict) as gone:
        ipam.acquire(repo, "net", vm_id=2, owner="a", reservation_id=res.id, ip=second.ip)
    assert why(gone) == (f"reservation {res.id} on network net has no free address {second.ip}",
                         "kill a VM that uses it, or reserve more: stratus network reserve")
    ipam.acquire(repo, "net", vm_id=2, owner="a", reservation_id=res.id)
    with pytest.raises(Conflict) as full:
        ipam.acquire(repo, "net", vm_id=3, owner="a", reservation_id=res.id)
    assert full.value.message == f"reservation {res.id} on network net has no free address"
    with pytest.raises(NotFound) as missing:
        ipam.acquire(repo, "net", vm_id=3, owner="a", reservation_id=999)
    assert why(missing) == ("reservation 999 does not exist",
                            "list them with: stratus reservation list")


def test_a_released_reservation_frees_its_addresses_unless_a_vm_uses_one(
    repo: InMemoryNetworkRepo,
) -> None:
    res, _ = ipam.reserve(repo, "net", owner="a", count=3)
    for vm in (8, 5):
        ipam.acquire(repo, "net", vm_id=vm, owner="a", reservation_id=res.id)
    with pytest.raises(Conflict) as busy:
        ipam.release_reservation(repo, res.id, "a")  # type: ignore[arg-type]
    assert why(busy) == (f"reservation {res.id} on network net is in use by VM 5, 8",
                         "kill those VMs first: stratus kill-instance 5 8")
    with pytest.raises(NotFound):
        ipam.release_reservation(repo, res.id, "b")  # type: ignore[arg-type]
    assert [le.vm_id for le in ipam.release_vm(repo, 8)] == [8]
    assert repo.get_lease("net", "10.9.0.10").vm_id is None  # type: ignore[union-attr]
    ipam.release_vm(repo, 5)
    ipam.release_reservation(repo, res.id, "a")  # type: ignore[arg-type]
    assert repo.leases("net") == [] and repo.get_reservation(res.id) is None  # type: ignore[arg-type]


def test_a_vm_lease_from_a_deleted_reservation_goes_back_to_the_pool(
    repo: InMemoryNetworkRepo,
) -> None:
    res, _ = ipam.reserve(repo, "net", owner="a", count=1)
    ipam.acquire(repo, "net", vm_id=4, owner="a", reservation_id=res.id)
    repo.delete_reservation(res.id)  # type: ignore[arg-type]
    ipam.release_vm(repo, 4)
    assert repo.leases("net") == []


# --- holds and usage ----------------------------------------------------------------------------

def test_holds_refuse_leased_addresses_and_count_in_usage(repo: InMemoryNetworkRepo) -> None:
    ipam.acquire(repo, "net", vm_id=6, owner="a")
    with pytest.raises(Conflict) as to_vm:
        ipam.hold(repo, "net", "10.9.0.10")
    assert why(to_vm) == ("address 10.9.0.10 of network net is leased to VM 6",
                          "hold it after the lease is released")
    res, [reserved] = ipam.reserve(repo, "net", owner="a", count=1)
    with pytest.raises(Conflict) as to_res:
        ipam.hold(repo, "net", reserved.ip)
    assert to_res.value.message == (f"address {reserved.ip} of network net is leased by a "
                                    "reservation")
    with pytest.raises(InvalidInput, match="outside every range"):
        ipam.hold(repo, "net", "10.9.0.99")
    ipam.hold(repo, "net", "10.9.0.13", "gateway")
    usage = ipam.usage(repo, "net")
    assert (usage.network, usage.size, usage.leases_used, usage.held, usage.reserved_free,
            usage.free) == ("net", 4, 2, 1, 1, 1)
    with pytest.raises(NotFound) as no_hold:
        ipam.release_hold(repo, "net", "10.9.0.12")
    assert why(no_hold) == ("hold of address 10.9.0.12 on network net does not exist",
                            "list them with: stratus network show")
    ipam.release_hold(repo, "net", "10.9.0.13")
    assert ipam.usage(repo, "net").held == 0
    ipam.acquire(repo, "net", vm_id=9, owner="a", reservation_id=res.id)
    assert ipam.usage(repo, "net").reserved_free == 0  # a VM uses the reserved address now


def test_a_full_network_says_what_holds_its_addresses(repo: InMemoryNetworkRepo) -> None:
    ipam.hold(repo, "net", "10.9.0.10")
    ipam.reserve(repo, "net", owner="a", count=1)
    ipam.acquire(repo, "net", vm_id=1, owner="a")
    ipam.acquire(repo, "net", vm_id=2, owner="a")
    with pytest.raises(Conflict) as full:
        ipam.acquire(repo, "net", vm_id=3, owner="a")
    assert why(full) == (
        "network net has no free address (4 in all: 3 leased, 1 held)",
        "release a reservation or kill unused VMs, or use another network: stratus network list")


# --- races for an address -----------------------------------------------------------------------

def test_an_address_lost_in_a_race_moves_on_to_the_next_one() -> None:
    repo = RacingRepo(losses=2)
    create_network(repo, net(), POOL)
    lease = ipam.acquire(repo, "net", vm_id=1, owner="a")
    assert lease.ip == "10.9.0.12" and lease.vm_id == 1


@pytest.mark.parametrize("losses,max_races,wins", [(2, 2, True), (3, 2, False), (0, 0, True),
                                                   (1, 0, False), (64, None, True),
                                                   (65, None, False)])
def test_races_are_retried_up_to_the_limit(losses: int, max_races: int | None,
                                           wins: bool) -> None:
    repo = RacingRepo(losses=losses)
    create_network(repo, net("big", ("10.9.0.10", "10.9.0.250")), POOL)
    limited = Ipam() if max_races is None else Ipam(max_races=max_races)  # default: 64
    if wins:
        assert limited.acquire(repo, "big", vm_id=1, owner="a").ip == f"10.9.0.{10 + losses}"
        return
    with pytest.raises(Conflict):
        limited.acquire(repo, "big", vm_id=1, owner="a")
    assert [le.vm_id for le in repo.leases("big")] == [999] * losses  # ours never stored
