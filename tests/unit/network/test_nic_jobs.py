"""NIC hot-plug over REST runs as jobs (SQLite, simulated hypervisor and network driver): attach
and detach answer 202 with a job that the runner carries out, the job's `result` holds the NIC's
facts, `GET /vms/{id}/nics` lists the VM's NICs; what can be refused at once (another user's VM,
a stopped VM, a network the caller may not use, a NIC that cannot go) is refused before any job
is queued; a job re-run after an interrupted attach leaves one NIC and one lease."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.helpers.cloud import drain

from stratuslab.bootstrap import Cloud
from stratuslab.core.commands import PoweroffVm, RunInstance
from stratuslab.core.entities import Principal
from stratuslab.core.hypervisor import VmHandle
from stratuslab.core.ports import Page
from stratuslab.drivers.hypervisor.simulated import SimulatedHypervisor
from stratuslab.services.network.definitions import get_network
from stratuslab.services.network.nics import VmNics
from stratuslab.services.network.service import repo_of

ADMIN = ("admin", "adminpw")
MALLORY = ("mallory", "Mallory-pw1")


@pytest.fixture
def vm_id(cloud: Cloud, admin: Principal, tmp_path: Path) -> int:
    f = tmp_path / "disk.raw"
    f.write_bytes(b"\0" * 4096)
    img = cloud.images.register(admin, "base", str(f), public=True)
    [(vm, _)] = cloud.compute.run(admin, RunInstance(img.id or 0))
    drain(cloud)
    cloud.identity.create_user(admin, *MALLORY)
    return vm.id or 0


@pytest.fixture
def http(cloud: Cloud) -> TestClient:
    return TestClient(cloud.app)  # no lifespan: the test runs the jobs (drain)


def _jobs(cloud: Cloud) -> int:
    with cloud.uow(readonly=True) as uow:
        return len(uow.jobs.list(None, None, Page(0, 1000)))


def _done(cloud: Cloud, http: TestClient, answer: Any) -> dict[str, Any]:
    assert answer.status_code == 202, answer.text
    job = answer.json()["job"]
    assert job["state"] == "queued" and job["kind"].startswith("nic-")
    drain(cloud)
    finished: dict[str, Any] = http.get(f"/api/v1/jobs/{job['id']}", auth=ADMIN).json()
    assert finished["state"] == "done", finished
    return finished


def test_attach_and_detach_answer_202_and_their_jobs_hold_the_nic(
        cloud: Cloud, http: TestClient, vm_id: int) -> None:
    url = f"/api/v1/vms/{vm_id}/nics"
    made = _done(cloud, http, http.post(url, json={"network": "private"}, auth=ADMIN))
    nic = made["result"]
    assert nic["nic_id"] == "1" and nic["network"] == "private" and nic["device"]
    [node] = cloud.nodes.values()
    hv = node.hypervisor
    assert isinstance(hv, SimulatedHypervisor) and nic["mac"] in hv.nics(vm_id)
    listed = http.get(url, auth=ADMIN).json()
    assert [(n["id"], n["name"], n["state"], n["owner"]) for n in listed] == [
        ("0", "public", "attached", "admin"), ("1", "private", "attached", "admin")]
    gone = _done(cloud, http, http.delete(f"{url}/{nic['mac']}", auth=ADMIN))
    assert gone["result"]["nic_id"] == "1" and nic["mac"] not in hv.nics(vm_id)
    assert [n["id"] for n in http.get(url, auth=ADMIN).json()] == ["0"]


@pytest.mark.parametrize("request_", [
    ("post", "/nics", {"network": "private"}, ADMIN, 404, "no VM"),
    ("post", "/nics", {"network": "nowhere"}, ADMIN, 404, "unknown network"),
    ("post", "/nics", {"network": "private", "extra": 1}, ADMIN, 400, "unknown field"),
    ("post", "/nics", {"network": "x" * 5000}, ADMIN, 404, "huge name"),
    ("delete", "/nics/0", None, ADMIN, 400, "the first NIC"),
    ("delete", "/nics/02:00:de:ad:be:ef", None, ADMIN, 404, "no such MAC"),
    ("post", "/nics", {"network": "private"}, MALLORY, 404, "another user's VM"),
    ("delete", "/nics/0", None, MALLORY, 404, "another user's VM"),
    ("get", "/nics", None, MALLORY, 404, "another user's VM"),
], ids=lambda r: r[-1])
def test_refusals_come_at_once_and_queue_no_job(
        cloud: Cloud, http: TestClient, vm_id: int, request_: tuple[Any, ...]) -> None:
    method, tail, body, who, status, _why = request_
    target = 999999 if _why == "no VM" else vm_id
    before = _jobs(cloud)
    answer = http.request(method.upper(), f"/api/v1/vms/{target}{tail}", json=body, auth=who)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["hint"] or status == 400
    assert _jobs(cloud) == before


def test_attach_to_a_stopped_vm_is_refused_before_any_job(
        cloud: Cloud, admin: Principal, http: TestClient, vm_id: int) -> None:
    cloud.compute.act(admin, PoweroffVm(vm_id))
    drain(cloud)
    before = _jobs(cloud)
    answer = http.post(f"/api/v1/vms/{vm_id}/nics", json={"network": "private"}, auth=ADMIN)
    assert answer.status_code == 409 and "start it first" in answer.text, answer.text
    assert _jobs(cloud) == before


def test_a_job_whose_vm_stopped_meanwhile_fails_with_the_reason(
        cloud: Cloud, admin: Principal, http: TestClient, vm_id: int) -> None:
    queued = http.post(f"/api/v1/vms/{vm_id}/nics", json={"network": "private"}, auth=ADMIN)
    assert queued.status_code == 202
    with cloud.uow() as uow:  # the VM is no longer running when the NIC job runs
        vm = uow.vms.get(vm_id)
        assert vm is not None
        vm.state = "poweroff"
        uow.vms.update(vm)
        uow.commit()
    drain(cloud)
    job = http.get(f"/api/v1/jobs/{queued.json()['job']['id']}", auth=ADMIN).json()
    assert job["state"] == "failed" and "start it first" in job["error"], job
    assert job["result"] is None


def test_a_rerun_after_an_interrupted_attach_takes_back_what_it_left(
        cloud: Cloud, admin: Principal, http: TestClient, vm_id: int) -> None:
    nics: VmNics = cloud.services.vm_nics
    vm = cloud.compute.get(admin, vm_id)
    [node] = cloud.nodes.values()
    hv = node.hypervisor
    assert isinstance(hv, SimulatedHypervisor)
    queued = http.post(f"/api/v1/vms/{vm_id}/nics", json={"network": "private"}, auth=ADMIN)
    # what the first attempt made before the server stopped: the lease, the node's NIC and
    # the guest's device, but not yet the VM's spec
    with cloud.uow() as uow:
        repo = repo_of(uow)
        network = get_network(repo, "private")
        lease = nics.ipam.acquire(repo, "private", vm_id=vm_id, owner="admin", nic_index=1)
        uow.commit()
    plugged = nics.extension.drivers[vm.host or ""].plug_nic(vm_id, 1, network, lease, [])
    h = vm.spec.handle
    hv.attach_nic(VmHandle(vm_id, h["host"], h.get("data", {})), plugged)
    with cloud.uow(readonly=True) as uow:
        job = uow.jobs.get(queued.json()["job"]["id"])
    assert job is not None
    job.attempts = 2  # claimed again after the interruption
    nics.run_attach(job)
    with cloud.uow(readonly=True) as uow:
        leases = [le for le in repo_of(uow).leases_for_vm(vm_id) if le.network == "private"]
    assert [le.nic_index for le in leases] == [1]  # one lease for NIC 1, not two
    assert len(hv.nics(vm_id)) == 2  # the first NIC and the new one, no third
    assert leases[0].mac in hv.nics(vm_id)
