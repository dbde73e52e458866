"""Self-service networks over a real SQLite database and the simulated drivers: a user creates
networks of their own (class tenant, own segment), within a quota, in private-use space; using
one needs the USE right (NICs, hot-plug, reservations); sharing is explicit (chmod/chgrp);
hostile input is refused with a message naming the network and nothing is made."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.cloud import drain

from stratuslab.bootstrap import Cloud
from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import Principal
from stratuslab.core.errors import Forbidden, InvalidInput, NotFound, QuotaExceeded
from stratuslab.core.network import AddressClass
from stratuslab.services.network.service import NetworkService


def image(cloud: Cloud, who: Principal, tmp_path: Path) -> int:
    f = tmp_path / "disk.raw"
    f.write_bytes(b"\0" * 4096)
    img = cloud.images.register(who, "base", str(f), public=True)
    assert img.id is not None
    return img.id


def user(cloud: Cloud, admin: Principal, name: str, groups: list[str] | None = None) -> Principal:
    cloud.identity.create_user(admin, name, f"{name}pw", groups=groups)
    return cloud.identity.check_password(name, f"{name}pw")


def net(cloud: Cloud) -> NetworkService:
    svc: NetworkService = cloud.services.network
    return svc


def names(cloud: Cloud, who: Principal) -> set[str]:
    return {v.network.name for v in net(cloud).networks(who)}


def test_a_user_network_is_a_tenant_segment_of_its_own_seen_and_used_by_its_owner_only(
    cloud: Cloud, admin: Principal, tmp_path: Path
) -> None:
    alice, bob = user(cloud, admin, "alice"), user(cloud, admin, "bob")
    mine = net(cloud).create(alice, "alice-net", {"subnet": "192.168.10.0/24"})
    theirs = net(cloud).create(bob, "bob-net", {"subnet": "192.168.10.0/24"})  # may overlap
    assert mine.address_class is AddressClass.TENANT and mine.owner == "alice"
    assert (mine.gateway, [str(r) for r in mine.ranges]) == ("192.168.10.1",
                                                            ["192.168.10.2-192.168.10.254"])
    assert mine.permissions == "um-------"
    segments = {v.network.segment_id for v in net(cloud).networks()}
    assert len(segments) == len(net(cloud).networks())  # every network its own segment
    assert theirs.segment_id != mine.segment_id
    assert "alice-net" in names(cloud, alice) and "alice-net" not in names(cloud, bob)
    assert {"public", "local", "private"} <= names(cloud, bob)  # admin networks: everyone's

    img = image(cloud, admin, tmp_path)
    with pytest.raises(NotFound, match="network alice-net"):
        cloud.compute.run(bob, RunInstance(img, nics=({"network": "alice-net"},)))
    with pytest.raises(NotFound, match="network alice-net"):
        net(cloud).reserve(bob, "alice-net", 1)
    with pytest.raises(NotFound, match="network alice-net"):
        net(cloud).show("alice-net", bob)
    with pytest.raises(NotFound, match="network alice-net"):
        net(cloud).delete(bob, "alice-net")
    assert cloud.compute.list(bob, include_done=True)[1] == 0  # refused: nothing made

    [(vm, _)] = cloud.compute.run(alice, RunInstance(img, nics=({"network": "alice-net"},)))
    drain(cloud)
    vm = cloud.compute.get(alice, vm.id or 0)
    assert vm.state == "running" and vm.ip == "192.168.10.2"


def test_sharing_is_explicit_with_other_or_a_group(cloud: Cloud, admin: Principal) -> None:
    cloud.identity.create_group(admin, "lab")
    alice = user(cloud, admin, "alice", ["lab"])
    bob, carol = user(cloud, admin, "bob", ["lab"]), user(cloud, admin, "carol")
    net(cloud).create(alice, "shared", {"subnet": "192.168.20.0/24"})
    assert "shared" not in names(cloud, bob)
    net(cloud).share(alice, "shared", group="lab", permissions="um-u-----")
    assert "shared" in names(cloud, bob) and "shared" not in names(cloud, carol)
    res, _ = net(cloud).reserve(bob, "shared", 1)  # USE is enough to take an address
    with pytest.raises(Forbidden, match="may not manage network shared"):
        net(cloud).delete(bob, "shared")  # ...not to change the network
    net(cloud).release_reservation(bob, res.id or 0)
    net(cloud).share(alice, "shared", permissions="um----u--")
    assert "shared" in names(cloud, carol)
    net(cloud).share(alice, "shared", permissions="um-------")
    assert "shared" not in names(cloud, bob) | names(cloud, carol)
    with pytest.raises(Forbidden, match="admin right"):
        net(cloud).share(alice, "shared", permissions="umau-a---")
    with pytest.raises(Forbidden, match="not in group staff"):
        net(cloud).share(alice, "shared", group="staff")
    with pytest.raises(InvalidInput, match="permissions"):
        net(cloud).share(alice, "shared", permissions="rwxrwxrwx")
    net(cloud).delete(alice, "shared")
    assert "shared" not in names(cloud, admin)


def test_user_networks_are_quota_limited_and_admin_networks_stay_the_admins(
    cloud: Cloud, admin: Principal
) -> None:
    alice = user(cloud, admin, "alice")
    quota = net(cloud).user_max_networks
    for i in range(quota):
        net(cloud).create(alice, f"n{i}", {"subnet": f"192.168.{i}.0/24"})
    with pytest.raises(QuotaExceeded, match=f"owns {quota} networks; the quota is {quota}"):
        net(cloud).create(alice, "one-more", {"subnet": "192.168.99.0/24"})
    with pytest.raises(Forbidden, match="reserved to administrators"):
        net(cloud).delete(alice, "public")
    with pytest.raises(Forbidden, match="reserved to administrators"):
        net(cloud).share(alice, "public", permissions="um-------")


@pytest.mark.parametrize(
    ("name", "table", "error", "message"),
    [
        ("x", {"subnet": "10.254.1.0/25"}, InvalidInput, "overlaps the cloud's network public"),
        ("x", {"subnet": "8.8.8.0/24"}, InvalidInput, "not a private-use /16 to /29"),
        ("x", {"subnet": "10.0.0.0/8"}, InvalidInput, "not a private-use /16 to /29"),
        ("x", {"subnet": "nonsense"}, InvalidInput, "subnet 'nonsense' is not valid"),
        ("x", {"subnet": "192.168.5.0/24", "segment_id": 5}, Forbidden, "segment_id is set"),
        ("x", {"subnet": "192.168.5.0/24", "mac_prefix": "02:01"}, Forbidden, "mac_prefix"),
        ("x", {"subnet": "192.168.5.0/24", "address_class": "public"}, Forbidden, "address_cl"),
        ("../../etc", {"subnet": "192.168.5.0/24"}, InvalidInput, "network name"),
        ("a b", {"subnet": "192.168.5.0/24"}, InvalidInput, "network name"),
        ("x" * 65, {"subnet": "192.168.5.0/24"}, InvalidInput, "network name"),
        ("x", {"subnet": "192.168.5.0/24", "gateway": "192.168.6.1"}, InvalidInput, "gateway"),
        ("x", {"subnet": "192.168.5.0/24", "ranges": ["192.168.4.1-192.168.4.9"]},
         InvalidInput, "not inside"),
    ],
)
def test_hostile_network_requests_are_refused_and_make_nothing(
    cloud: Cloud, admin: Principal, name: str, table: dict[str, object],
    error: type[Exception], message: str,
) -> None:  # fmt: skip
    alice = user(cloud, admin, "alice")
    before = {v.network.name for v in net(cloud).networks()}
    with pytest.raises(error, match=message):
        net(cloud).create(alice, name, table)
    assert {v.network.name for v in net(cloud).networks()} == before
