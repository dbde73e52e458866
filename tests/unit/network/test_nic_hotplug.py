"""NIC hot-plug through the cloud (SQLite, simulated hypervisor and network driver): an attached
NIC takes a lease, joins the VM's spec and the hypervisor's devices; detaching it (or the VM's
end) gives the lease back exactly once; a failed plug leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.cloud import drain, make_settings, seed_data_dir

from stratuslab.bootstrap import Cloud, build_cloud
from stratuslab.core.commands import RunInstance, vm_command
from stratuslab.core.entities import Principal, Vm
from stratuslab.core.errors import DriverError, InvalidInput, InvalidState, NotFound, QuotaExceeded
from stratuslab.drivers.hypervisor.simulated import SimulatedHypervisor
from stratuslab.services.network.nics import VmNics
from stratuslab.services.network.service import NetworkService


def used(cloud: Cloud, name: str) -> int:
    svc: NetworkService = cloud.services.network
    return next(v.usage.leases_used for v in svc.networks() if v.network.name == name)


def nics(cloud: Cloud) -> VmNics:
    svc: VmNics = cloud.services.vm_nics
    return svc


def hypervisor(cloud: Cloud) -> SimulatedHypervisor:
    [node] = cloud.nodes.values()
    hv = node.hypervisor
    assert isinstance(hv, SimulatedHypervisor)
    return hv


@pytest.fixture
def running(cloud: Cloud, admin: Principal, tmp_path: Path) -> Vm:
    f = tmp_path / "disk.raw"
    f.write_bytes(b"\0" * 4096)
    img = cloud.images.register(admin, "base", str(f), public=True)
    assert img.id is not None
    [(vm, _)] = cloud.compute.run(admin, RunInstance(img.id))
    drain(cloud)
    vm = cloud.compute.get(admin, vm.id or 0)
    assert vm.state == "running"
    return vm


def test_attach_then_detach_returns_the_lease_to_the_pool(
    cloud: Cloud, admin: Principal, running: Vm
) -> None:
    vm_id = running.id or 0
    facts = nics(cloud).attach(admin, running, "private")
    assert facts["nic_id"] == "1" and facts["network"] == "private"
    assert used(cloud, "private") == 1
    assert hypervisor(cloud).nics(vm_id) == [running.mac, facts["mac"]]
    vm = cloud.compute.get(admin, vm_id)
    assert [n["network"] for n in vm.spec.networks] == ["public", "private"]
    assert [n["mac"] for n in vm.spec.prepared["nics"]] == [running.mac, facts["mac"]]
    nics(cloud).detach(admin, vm, facts["mac"])
    assert used(cloud, "private") == 0
    assert hypervisor(cloud).nics(vm_id) == [running.mac]
    vm = cloud.compute.get(admin, vm_id)
    assert len(vm.spec.networks) == 1 and len(vm.spec.prepared["nics"]) == 1
    kinds = [(e.kind, e.message.split(" ")[0]) for e in cloud.compute.events(admin, vm_id)]
    assert ("nic", "attached") in kinds and ("nic", "detached") in kinds
    assert kinds.count(("lease", "released")) == 1


def test_failed_hot_plug_leaves_no_lease_and_no_nic(
    cloud: Cloud, admin: Principal, running: Vm
) -> None:
    hypervisor(cloud).fail["attach_nic"] = "injected attach failure"
    with pytest.raises(DriverError, match="injected"):
        nics(cloud).attach(admin, running, "private")
    assert used(cloud, "private") == 0
    vm = cloud.compute.get(admin, running.id or 0)
    assert len(vm.spec.networks) == 1
    assert hypervisor(cloud).nics(running.id or 0) == [running.mac]


def test_vm_end_releases_an_attached_nic_lease_once(
    cloud: Cloud, admin: Principal, running: Vm
) -> None:
    nics(cloud).attach(admin, running, "private")
    cloud.compute.act(admin, vm_command("kill", running.id or 0))
    drain(cloud)
    assert used(cloud, "private") == 0 and used(cloud, "public") == 0
    events = cloud.compute.events(admin, running.id or 0)
    assert sum(e.message.startswith("released lease (NETWORK=private") for e in events) == 1


def test_only_the_last_added_nic_can_be_detached(
    cloud: Cloud, admin: Principal, running: Vm
) -> None:
    with pytest.raises(InvalidInput, match="cannot be detached"):
        nics(cloud).detach(admin, running, "0")
    assert used(cloud, "public") == 1


def test_attach_to_a_stopped_vm_is_refused(cloud: Cloud, admin: Principal, running: Vm) -> None:
    cloud.compute.act(admin, vm_command("kill", running.id or 0))
    drain(cloud)
    with pytest.raises(InvalidState):
        nics(cloud).attach(admin, cloud.compute.get(admin, running.id or 0), "private")
    assert used(cloud, "private") == 0


def test_the_service_refuses_another_users_vm_as_if_it_did_not_exist(
    cloud: Cloud, admin: Principal, running: Vm
) -> None:
    cloud.identity.create_user(admin, "mallory", "Mallory-pw1")
    mallory = cloud.identity.check_password("mallory", "Mallory-pw1")
    for call in (lambda: nics(cloud).attach(mallory, running.id or 0, "private"),
                 lambda: nics(cloud).detach(mallory, running.id or 0, "0"),
                 lambda: nics(cloud).attach(mallory, running, "private")):  # a Vm read earlier
        with pytest.raises(NotFound, match=f"VM {running.id} does not exist"):
            call()
    assert used(cloud, "private") == 0
    assert hypervisor(cloud).nics(running.id or 0) == [running.mac]


def test_a_nic_counts_against_the_vm_owners_lease_quota_even_when_an_admin_attaches_it(
    tmp_path: Path, template_db: Path
) -> None:
    data = tmp_path / "data"
    seed_data_dir(data, template_db)
    c = build_cloud(make_settings(data, network={"lease_quota": 1}))
    try:
        c.identity.ensure_admin("adminpw")
        root = c.identity.check_password("admin", "adminpw")
        c.identity.create_user(root, "alice", "Alice-pw-1")
        alice = c.identity.check_password("alice", "Alice-pw-1")
        f = tmp_path / "disk.raw"
        f.write_bytes(b"\0" * 4096)
        img = c.images.register(root, "base", str(f), public=True)
        [(vm, _)] = c.compute.run(alice, RunInstance(img.id or 0))  # her one lease
        drain(c)
        with pytest.raises(QuotaExceeded, match="user alice holds 1 leases of a quota of 1"):
            nics(c).attach(root, vm.id or 0, "private")
        with pytest.raises(QuotaExceeded, match="user alice"):
            nics(c).attach(alice, vm.id or 0, "private")
        assert used(c, "private") == 0
    finally:
        c.stop()
