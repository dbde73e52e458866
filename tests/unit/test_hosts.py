"""Hosts as data over a real SQLite database (PostgreSQL with STRATUSLAB_TEST_DATABASE_URL):
registration and heartbeat of the served node, stored enable/disable, who may do what."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.cloud import drain, make_settings

from stratuslab import __version__
from stratuslab.bootstrap import Cloud, build_cloud
from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import Principal
from stratuslab.core.errors import Forbidden, NotFound, Unsupported
from stratuslab.core.hosts import HostState
from stratuslab.core.stats import HostCapacity
from stratuslab.services.hosts import HostService


def hosts(cloud: Cloud) -> HostService:
    return cloud.services.hosts


@pytest.fixture
def alice(cloud: Cloud, admin: Principal) -> Principal:
    cloud.identity.create_user(admin, "alice", "alicepw")
    return cloud.identity.check_password("alice", "alicepw")


def test_the_served_node_is_registered_with_its_capacity(cloud: Cloud) -> None:
    [host] = hosts(cloud).list()
    assert (host.name, host.state, host.version, host.front_end) == (
        "localhost", HostState.MONITORED, __version__, "localhost")
    assert host.cpus >= 1 and host.memory_mib > 0 and host.heartbeat_at is not None
    assert (host.allocated_vcpu, host.vms) == (0, 0)
    assert host.attributes["CPUS"] == host.cpus


def test_allocation_counts_the_vms_holding_capacity(cloud: Cloud, admin: Principal,
                                                      tmp_path: Path) -> None:
    disk = tmp_path / "d.raw"
    disk.write_bytes(b"\0" * 4096)
    img = cloud.images.register(admin, "base", str(disk)).id or 0
    [(vm, _)] = cloud.compute.run(admin, RunInstance(img, instance_type="m1.large", ram_mib=1000))
    drain(cloud)
    host = hosts(cloud).show(admin, "localhost")
    assert (host.allocated_vcpu, host.allocated_memory_mib, host.vms) == (2, 1000, 1)
    assert host.free_cpus == host.cpus - 2


def test_disable_survives_a_restart(tmp_path: Path, cloud: Cloud, admin: Principal) -> None:
    hosts(cloud).set_state(admin, "localhost", HostState.DISABLED)
    hosts(cloud).heartbeat()  # a heartbeat never re-enables a host an administrator disabled
    assert hosts(cloud).show(admin, "localhost").state is HostState.DISABLED
    cloud.stop()
    again = build_cloud(make_settings(tmp_path))
    try:
        assert hosts(again).show(None, "localhost").state is HostState.DISABLED
        assert not again.compute.placement.is_enabled("localhost")
        hosts(again).set_enabled(admin, "localhost", True)
        assert again.compute.placement.is_enabled("localhost")
    finally:
        again.stop()


def test_xmlrpc_enable_and_rest_share_one_state(cloud: Cloud, admin: Principal) -> None:
    cloud.compute.set_host_enabled(admin, "localhost", False)  # one.host.enable ID false
    assert hosts(cloud).show(admin, "localhost").state is HostState.DISABLED
    hosts(cloud).set_state(admin, "localhost", HostState.OFFLINE)
    assert not cloud.compute.placement.is_enabled("localhost")
    cloud.compute.set_host_enabled(admin, "localhost", True)
    assert hosts(cloud).show(admin, "localhost").state is HostState.MONITORED


def test_users_list_but_only_admins_change_state(cloud: Cloud, alice: Principal) -> None:
    assert [h.name for h in hosts(cloud).list(alice)] == ["localhost"]
    with pytest.raises(Forbidden, match="alice may not change the state of host localhost"):
        hosts(cloud).set_state(alice, "localhost", HostState.DISABLED)
    with pytest.raises(Forbidden):
        hosts(cloud).flush(alice, "localhost")
    assert hosts(cloud).show(alice, "localhost").state is HostState.MONITORED


def test_unknown_host_and_flush_say_what_to_do(cloud: Cloud, admin: Principal) -> None:
    with pytest.raises(NotFound) as missing:
        hosts(cloud).set_state(admin, "nope", HostState.DISABLED)
    assert "nope" in missing.value.full_message and "stratus host list" in missing.value.full_message
    with pytest.raises(Unsupported) as flush:
        hosts(cloud).flush(admin, "localhost")
    assert "flushing host localhost" in flush.value.full_message
    assert "stratus host disable localhost" in flush.value.full_message


def test_a_node_that_does_not_answer_is_in_error_until_it_does(cloud: Cloud) -> None:
    def broken() -> HostCapacity:
        raise OSError("no /proc")

    svc = hosts(cloud)
    svc.served["localhost"] = broken
    svc.heartbeat()
    assert svc.show(None, "localhost").state is HostState.ERROR
    assert not cloud.compute.placement.is_enabled("localhost")
    svc.served["localhost"] = lambda: HostCapacity(cpus=8, memory_mib=4096)
    svc.heartbeat()
    host = svc.show(None, "localhost")
    assert (host.state, host.cpus, host.memory_mib) == (HostState.MONITORED, 8, 4096)
