"""Networking through the cloud (SQLite, simulated hypervisor and network driver): leases taken
with the VM, released exactly once when it ends or its deploy fails, refusals, reservations,
holds and security groups with their owners' visibility."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.cloud import drain

from stratuslab.bootstrap import Cloud
from stratuslab.core.commands import RunInstance, vm_command
from stratuslab.core.entities import Principal
from stratuslab.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidState,
    NotFound,
    QuotaExceeded,
)
from stratuslab.services.network.service import NetworkService


def image(cloud: Cloud, who: Principal, tmp_path: Path) -> int:
    f = tmp_path / "disk.raw"
    f.write_bytes(b"\0" * 4096)
    img = cloud.images.register(who, "base", str(f), public=True)
    assert img.id is not None
    return img.id


@pytest.fixture
def alice(cloud: Cloud, admin: Principal) -> Principal:
    cloud.identity.create_user(admin, "alice", "alicepw")
    return cloud.identity.check_password("alice", "alicepw")


@pytest.fixture
def bob(cloud: Cloud, admin: Principal) -> Principal:
    cloud.identity.create_user(admin, "bob", "bobpw")
    return cloud.identity.check_password("bob", "bobpw")


def net(cloud: Cloud) -> NetworkService:
    svc: NetworkService = cloud.services.network
    return svc


def used(cloud: Cloud, name: str = "public") -> int:
    return next(v.usage.leases_used for v in net(cloud).networks() if v.network.name == name)


def test_default_classes_exist_with_distinct_segments(cloud: Cloud) -> None:
    views = {v.network.name: v for v in net(cloud).networks()}
    assert sorted(views) == ["local", "private", "public"]
    assert len({v.network.segment_id for v in views.values()}) == 3
    assert all(v.usage.size == 241 and v.usage.leases_used == 0 for v in views.values())


def test_vm_gets_a_public_lease_with_context_facts_and_event(
    cloud: Cloud, admin: Principal, tmp_path: Path
) -> None:
    img = image(cloud, admin, tmp_path)
    [(vm, _)] = cloud.compute.run(admin, RunInstance(img))
    assert vm.ip == "10.254.1.10" and vm.mac == "02:00:0a:fe:01:0a"
    assert vm.ipv6 and vm.ipv6.startswith("fd53:7472:6174:1:")
    [facts] = vm.spec.networks
    assert facts == {"network": "public", "mac": vm.mac, "ip": vm.ip, "prefix": "24",
                     "gateway": "10.254.1.1", "ipv6": f"{vm.ipv6}/64"}
    drain(cloud)
    vm = cloud.compute.get(admin, vm.id)
    assert vm.state == "running"
    assert [n["ip"] for n in vm.spec.prepared["nics"]] == [vm.ip]
    events = cloud.compute.events(admin, vm.id)
    lease = [e for e in events if e.kind == "lease"]
    assert lease[0].message.startswith("acquired lease (NETWORK=public, IP=10.254.1.10")
    assert (lease[0].ip, lease[0].mac) == (vm.ip, vm.mac)
    assert used(cloud) == 1


def test_kill_releases_the_lease_once_and_records_it(
    cloud: Cloud, admin: Principal, tmp_path: Path
) -> None:
    img = image(cloud, admin, tmp_path)
    [(vm, _)] = cloud.compute.run(admin, RunInstance(img))
    drain(cloud)
    cloud.compute.act(admin, vm_command("kill", vm.id))
    drain(cloud)
    assert cloud.compute.get(admin, vm.id).state == "done"
    assert used(cloud) == 0
    released = [e for e in cloud.compute.events(admin, vm.id) if e.message.startswith("released")]
    assert len(released) == 1 and "IP=10.254.1.10" in released[0].message
    [(again, _)] = cloud.compute.run(admin, RunInstance(img))
    assert again.ip == "10.254.1.10"  # back in the pool


def test_failed_deploy_releases_the_lease_and_retry_takes_it_again(
    cloud: Cloud, admin: Principal, tmp_path: Path
) -> None:
    img = image(cloud, admin, tmp_path)
    [(vm, _)] = cloud.compute.run(admin, RunInstance(img, extra={"simulate_failure": "start"}))
    drain(cloud)
    failed = cloud.compute.get(admin, vm.id)
    assert failed.state == "failed" and used(cloud) == 0
    driver = cloud.features.network.driver
    assert driver.nics == {}  # unplugged by the rollback
    cloud.compute.act(admin, vm_command("recover-retry", vm.id))  # fails again (the failure is in its spec)
    drain(cloud)
    assert cloud.compute.get(admin, vm.id).state == "boot-failure" and used(cloud) == 1
    cloud.compute.act(admin, vm_command("recover-failure", vm.id))
    assert cloud.compute.get(admin, vm.id).state == "failed" and used(cloud) == 0
    leases = [e.message.split(" ")[0] for e in cloud.compute.events(admin, vm.id) if e.kind == "lease"]
    assert leases == ["acquired", "released", "acquired", "released"]  # same address each time
    assert all("IP=10.254.1.10," in e.message for e in cloud.compute.events(admin, vm.id)
               if e.kind == "lease")


def test_requested_address_and_refusals(cloud: Cloud, admin: Principal, tmp_path: Path) -> None:
    img = image(cloud, admin, tmp_path)
    [(vm, _)] = cloud.compute.run(admin, RunInstance(img, nics=({"ip": "10.254.2.77"},)))
    assert vm.ip == "10.254.2.77" and vm.spec.nics[0]["network"] == "local"
    with pytest.raises(Conflict, match="already leased to VM"):
        cloud.compute.run(admin, RunInstance(img, nics=({"ip": "10.254.2.77"},)))
    with pytest.raises(InvalidInput, match="outside every range of every network"):
        cloud.compute.run(admin, RunInstance(img, nics=({"ip": "192.0.2.5"},)))
    with pytest.raises(InvalidInput, match="outside every range of network public"):
        cloud.compute.run(admin, RunInstance(img, nics=({"network": "public", "ip": "10.254.1.3"},)))
    with pytest.raises(NotFound, match="network nowhere does not exist"):
        cloud.compute.run(admin, RunInstance(img, nics=({"network": "nowhere"},)))
    assert used(cloud, "local") == 1 and used(cloud) == 0  # refused requests leave no lease


def test_admin_network_management_and_refusals(
    cloud: Cloud, admin: Principal, alice: Principal
) -> None:
    svc = net(cloud)
    with pytest.raises(Forbidden, match="segment_id is set by the cloud"):
        svc.create(alice, "lab", {"subnet": "10.30.0.0/24", "segment_id": 7})  # users: tenant only
    made = svc.create(admin, "lab", {"subnet": "10.30.0.0/24", "ranges": ["10.30.0.10-10.30.0.19"]})
    assert made.segment_id is not None
    with pytest.raises(InvalidInput, match="overlaps"):
        svc.add_range(admin, "lab", "10.30.0.15-10.30.0.30")
    svc.add_range(admin, "lab", "10.30.0.100-10.30.0.109")
    assert next(v.usage.size for v in svc.networks() if v.network.name == "lab") == 20
    with pytest.raises(InvalidInput, match="segment id 5000 is out of range"):
        svc.create(admin, "vl", {"subnet": "10.31.0.0/24", "segment_kind": "vlan", "segment_id": 5000})
    with pytest.raises(InvalidInput, match="segment id 16777216 is out of range"):
        svc.create(admin, "vx", {"subnet": "10.32.0.0/24", "segment_id": 16777216})
    svc.hold(admin, "lab", "10.30.0.10", "router")
    res, leases = svc.reserve(alice, "lab", 2)
    assert [le.ip for le in leases] == ["10.30.0.11", "10.30.0.12"]  # the held one is skipped
    with pytest.raises(Conflict, match=r"^network lab still has 2 leases \(reservations\); "
                       "kill those VMs and release the reservations first$"):
        svc.delete(admin, "lab")
    svc.release_reservation(alice, res.id or 0)
    svc.delete(admin, "lab")


def test_reservations_are_private_counted_in_quota_and_bounded_by_the_pool(
    cloud: Cloud, admin: Principal, alice: Principal, bob: Principal, tmp_path: Path
) -> None:
    svc = net(cloud)
    with pytest.raises(InvalidInput, match="has 241 addresses in all; cannot reserve 500"):
        svc.reserve(alice, "public", 500)
    res, _ = svc.reserve(alice, "public", 3, name="web")
    assert [r.id for r, _ in svc.reservations(bob)] == []
    with pytest.raises(NotFound):
        svc.release_reservation(bob, res.id or 0)
    svc.lease_quota = 4
    with pytest.raises(QuotaExceeded, match="holds 3 leases of a quota of 4"):
        svc.reserve(alice, "public", 2)
    img = image(cloud, admin, tmp_path)
    [(vm, _)] = cloud.compute.run(alice, RunInstance(img, nics=({"network": "public",
                                                                 "reservation": str(res.id)},)))
    assert vm.ip == "10.254.1.10"
    with pytest.raises(Conflict, match="in use by VM"):
        svc.release_reservation(alice, res.id or 0)


def test_security_groups_are_per_owner_and_attach_to_nics(
    cloud: Cloud, admin: Principal, alice: Principal, bob: Principal, tmp_path: Path
) -> None:
    svc = net(cloud)
    svc.create_group(alice, "web", ["inbound tcp 80", "inbound icmp"])
    svc.create_group(bob, "web", ["inbound tcp 443"])  # same name, another owner
    with pytest.raises(Conflict, match="already exists"):
        svc.create_group(alice, "web")
    assert [g.owner for g in svc.groups(alice)] == ["alice"]
    with pytest.raises(NotFound):
        svc.group(bob, "nosuch")
    img = image(cloud, admin, tmp_path)
    with pytest.raises(NotFound, match="security group db does not exist"):
        cloud.compute.run(alice, RunInstance(img, nics=({"secgroup": "db"},)))
    [(vm, _)] = cloud.compute.run(alice, RunInstance(img, nics=({"secgroup": "web"},)))
    drain(cloud)
    driver = cloud.features.network.driver
    [(tap, rules)] = driver.rules.items()
    assert {(r.protocol.value, r.port_min) for r in rules} >= {("tcp", 80), ("icmp", None)}
    with pytest.raises(NotFound):
        svc.attach(bob, vm.id or 0, ["web"])
    svc.add_rule(alice, "web", "inbound tcp 8080")
    with pytest.raises(Conflict, match="attached to VM"):
        svc.delete_group(alice, "web")


def test_remote_group_rules_resolve_to_the_members_addresses(
    cloud: Cloud, admin: Principal, alice: Principal, tmp_path: Path
) -> None:
    svc = net(cloud)
    svc.create_group(alice, "web", ["inbound tcp 80"])
    svc.create_group(alice, "db", ["inbound tcp 5432 group:web"])
    img = image(cloud, admin, tmp_path)
    [(web, _)] = cloud.compute.run(alice, RunInstance(img, nics=({"secgroup": "web"},)))
    [(dbvm, _)] = cloud.compute.run(alice, RunInstance(img, nics=({"secgroup": "db"},)))
    drain(cloud)
    driver = cloud.features.network.driver
    rules = driver.rules[f"sl{dbvm.id}n0"]
    cidrs = {r.remote_cidr for r in rules if r.port_min == 5432}
    assert cidrs == {f"{web.ip}/32", f"{web.ipv6}/128"}


def test_image_inbound_ports_open_the_default_firewall_and_are_logged(
    cloud: Cloud, admin: Principal, alice: Principal, tmp_path: Path
) -> None:
    f = tmp_path / "web.raw"
    f.write_bytes(b"\0" * 4096)
    web = cloud.images.register(admin, "web", str(f), public=True, inbound_ports=[8080, 443, 8080])
    assert web.inbound_ports == [443, 8080]
    with pytest.raises(InvalidInput, match="inbound port 70000 is not a TCP port"):
        cloud.images.register(admin, "bad", str(f), inbound_ports=[70000])
    net(cloud).create_group(alice, "ssh", ["inbound tcp 22"])
    [(plain, _)] = cloud.compute.run(alice, RunInstance(web.id or 0))
    [(grouped, _)] = cloud.compute.run(alice, RunInstance(web.id or 0, nics=({"secgroup": "ssh"},)))
    [(other, _)] = cloud.compute.run(alice, RunInstance(image(cloud, admin, tmp_path)))
    drain(cloud)
    driver = cloud.features.network.driver

    def inbound_tcp(vm_id: int | None) -> set[int | None]:
        return {r.port_min for r in driver.rules[f"sl{vm_id}n0"]
                if r.direction.value == "inbound" and r.protocol.value == "tcp"}

    assert inbound_tcp(plain.id) == inbound_tcp(grouped.id) == {22, 443, 8080}
    assert inbound_tcp(other.id) == {22}
    [ev] = [e for e in cloud.compute.events(alice, plain.id or 0) if e.kind == "firewall"]
    assert ev.message == f"image {web.id} opens inbound TCP port(s) 443, 8080"
    assert not [e for e in cloud.compute.events(alice, other.id or 0) if e.kind == "firewall"]


def test_a_down_network_gives_no_new_leases_and_keeps_the_ones_it_gave(
    cloud: Cloud, admin: Principal, alice: Principal, tmp_path: Path
) -> None:
    img = image(cloud, admin, tmp_path)
    svc = net(cloud)
    [(before, _)] = cloud.compute.run(admin, RunInstance(img, nics=({"network": "public"},)))
    with pytest.raises(Forbidden):
        svc.set_enabled(alice, "public", False)
    svc.set_enabled(admin, "public", False)
    assert not next(v.network.enabled for v in svc.networks() if v.network.name == "public")
    with pytest.raises(InvalidState, match="network public is down; cannot give new addresses"):
        cloud.compute.run(admin, RunInstance(img, nics=({"network": "public"},)))
    with pytest.raises(InvalidState, match="is down"):
        svc.reserve(alice, "public", 1)
    assert used(cloud) == 1 and cloud.compute.get(admin, before.id).ip is not None
    svc.set_enabled(admin, "public", True)
    cloud.compute.run(admin, RunInstance(img, nics=({"network": "public"},)))
    assert used(cloud) == 2
