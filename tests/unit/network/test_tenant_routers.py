"""Routers of tenant networks through the service: the router's external address and each
floating address are reservations of the network's owner on the public network; only the
network's manager adds them; bad requests are refused and make nothing; the node's driver
receives the network with its router (simulated driver: what ensure_segment got)."""

from __future__ import annotations

import pytest

from stratuslab.bootstrap import Cloud
from stratuslab.core.entities import Principal
from stratuslab.core.errors import Conflict, InvalidInput, NotFound
from stratuslab.drivers.network.simulated import SimulatedNetworkDriver
from stratuslab.services.network.service import NetworkService


def user(cloud: Cloud, admin: Principal, name: str) -> Principal:
    cloud.identity.create_user(admin, name, f"{name}pw")
    return cloud.identity.check_password(name, f"{name}pw")


def net(cloud: Cloud) -> NetworkService:
    svc: NetworkService = cloud.services.network
    return svc


def node_view(cloud: Cloud, name: str):  # type: ignore[no-untyped-def]
    driver = cloud.features.network.driver
    assert isinstance(driver, SimulatedNetworkDriver)
    return driver.segments[name]


def reserved(cloud: Cloud, who: Principal) -> list[str]:
    return sorted(r.name for r, _ in net(cloud).reservations(who))


def test_router_and_floating_addresses_are_the_owners_reservations_and_reach_the_node(
    cloud: Cloud, admin: Principal
) -> None:
    alice, bob = user(cloud, admin, "alice"), user(cloud, admin, "bob")
    net(cloud).create(alice, "alice-net", {"subnet": "192.168.10.0/24"})
    with pytest.raises(NotFound, match="network alice-net"):
        net(cloud).set_router(bob, "alice-net", enabled=True)
    with pytest.raises(InvalidInput, match="one of the cloud's"):
        net(cloud).set_router(alice, "public", enabled=False)
    with pytest.raises(Conflict, match="has no router"):
        net(cloud).add_floating(alice, "alice-net", "192.168.10.2")

    made = net(cloud).set_router(alice, "alice-net", enabled=True)
    assert made.router is not None and made.router.external.name == "public"
    assert made.router.ip.startswith("10.254.1.")
    fip = net(cloud).add_floating(alice, "alice-net", "192.168.10.2")
    assert reserved(cloud, alice) == ["floating:alice-net", "router:alice-net"]
    router = node_view(cloud, "alice-net").router
    assert router is not None and [(f.ip, f.private_ip) for f in router.floating] == [
        (fip.ip, "192.168.10.2")]
    for bad in ("10.254.1.5", "not-an-ip", "192.168.11.2"):
        with pytest.raises(InvalidInput, match="is not an address of network alice-net"):
            net(cloud).add_floating(alice, "alice-net", bad)
    with pytest.raises(Conflict, match="already has a floating address"):
        net(cloud).add_floating(alice, "alice-net", "192.168.10.2")
    assert len(reserved(cloud, alice)) == 2  # refusals reserved nothing

    net(cloud).remove_floating(alice, "alice-net", fip.ip)
    assert reserved(cloud, alice) == ["router:alice-net"]
    net(cloud).set_router(alice, "alice-net", enabled=False)
    assert reserved(cloud, alice) == [] and node_view(cloud, "alice-net").router is None
    shown, _leases, _holds = net(cloud).show("alice-net", alice)
    assert shown.network.router is None
