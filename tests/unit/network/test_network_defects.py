"""Smaller defects of the network feature, fixed: a failed VM no longer shows the address that
went back to the pool (and to the next VM), and another user's reservation is NotFound (404) on
every path, never Forbidden on one and NotFound on another."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.helpers.cloud import drain

from stratuslab.bootstrap import Cloud
from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import Principal
from stratuslab.core.errors import NotFound
from stratuslab.services.network.service import NetworkService


def image(cloud: Cloud, who: Principal, tmp_path: Path) -> int:
    f = tmp_path / "disk.raw"
    f.write_bytes(b"\0" * 4096)
    img = cloud.images.register(who, "base", str(f), public=True)
    assert img.id is not None
    return img.id


def user(cloud: Cloud, admin: Principal, name: str) -> Principal:
    cloud.identity.create_user(admin, name, f"{name}pw")
    return cloud.identity.check_password(name, f"{name}pw")


def net(cloud: Cloud) -> NetworkService:
    svc: NetworkService = cloud.services.network
    return svc


def test_a_failed_vm_shows_no_address_once_its_lease_went_back(
    cloud: Cloud, admin: Principal, tmp_path: Path
) -> None:
    img = image(cloud, admin, tmp_path)
    hv: Any = cloud.nodes["localhost"].hypervisor
    hv.fail["start"] = "simulated start failure"
    [(bad, _)] = cloud.compute.run(admin, RunInstance(img))
    drain(cloud)
    del hv.fail["start"]
    failed = cloud.compute.get(admin, bad.id or 0)
    assert failed.state == "failed" and bad.ip is not None
    assert (failed.ip, failed.mac, failed.ipv6) == (None, None, None)
    [(good, _)] = cloud.compute.run(admin, RunInstance(img))
    assert good.ip == bad.ip  # the address went back to the pool and to the next VM
    assert "released lease" in " ".join(e.message for e in cloud.compute.events(admin, bad.id or 0))


def test_another_users_reservation_is_not_found_on_every_path(
    cloud: Cloud, admin: Principal, tmp_path: Path
) -> None:
    alice, bob = user(cloud, admin, "alice"), user(cloud, admin, "bob")
    res, _ = net(cloud).reserve(alice, "local", 1)
    img = image(cloud, admin, tmp_path)
    nic = {"network": "local", "reservation": str(res.id)}
    with pytest.raises(NotFound, match=f"reservation {res.id} does not exist"):
        cloud.compute.run(bob, RunInstance(img, nics=(nic,)))
    with pytest.raises(NotFound, match=f"reservation {res.id} does not exist"):
        net(cloud).release_reservation(bob, res.id or 0)
    assert cloud.compute.list(bob, include_done=True)[1] == 0
