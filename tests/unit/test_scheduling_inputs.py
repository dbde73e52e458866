"""A user's scheduling inputs over the real cloud: `requirements` and `rank` through REST (the CLI's
run-instance sends them there) and SCHED_REQUIREMENTS / SCHED_RANK in an XML-RPC template; a VM
goes only where its expression holds, waits with the reason otherwise, and broken or hostile
input is refused at the edge with the place of the fault and nothing made."""

from __future__ import annotations

import re
import xmlrpc.client
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.helpers.cloud import drain

from stratuslab.bootstrap import Cloud
from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import Principal
from stratuslab.core.errors import InvalidInput
from stratuslab.services.hosts import REPO

ADMIN = ("admin", "adminpw")
BOB = ("bob", "bob-pw-123")


@pytest.fixture
def image(cloud: Cloud, admin: Principal, tmp_path: Path) -> int:
    disk = tmp_path / "d.raw"
    disk.write_bytes(b"\0" * 4096)
    cloud.identity.create_user(admin, *BOB)
    with cloud.uow() as uow:  # what a site sets on its hosts (stratus host show lists them)
        host = uow.repo(REPO).get("localhost", for_update=True)
        host.attributes = {**host.attributes, "ARCH": "x86_64", "GPU": "none"}
        uow.repo(REPO).update(host, cloud.clock.now())
        uow.commit()
    return cloud.images.register(admin, "base", str(disk), public=True).id or 0


def rpc(http: TestClient, method: str, *args: Any) -> list[Any]:
    body = xmlrpc.client.dumps(("bob:bob-pw-123", *args), method)
    answer = http.post("/RPC2", content=body.encode(), headers={"Content-Type": "text/xml"})
    assert answer.status_code == 200, answer.text
    return list(xmlrpc.client.loads(answer.content)[0][0])


def test_rest_requirements_and_rank_choose_where_the_vm_may_run(cloud: Cloud, admin: Principal,
                                                                image: int) -> None:
    http = TestClient(cloud.app)
    fits = http.post("/api/v1/vms", auth=BOB, json={
        "image": image, "type": "t1.micro", "requirements": 'ARCH = "x86*" & CPUS >= 1',
        "rank": "stripe"})
    never = http.post("/api/v1/vms", auth=BOB, json={
        "image": image, "type": "t1.micro", "requirements": "GPU = nvidia", "rank": "FREE_CPU"})
    assert (fits.status_code, never.status_code) == (202, 202), (fits.text, never.text)
    drain(cloud)
    ok, waiting = (cloud.compute.get(admin, r.json()["vms"][0]["id"]) for r in (fits, never))
    assert (ok.state, ok.host, ok.spec.sched_policy) == ("running", "localhost", "stripe")
    assert (waiting.state, waiting.spec.sched_policy) == ("pending", "load")  # ONE's rank
    assert waiting.error == (f"no host can run VM {waiting.id}: localhost: requirements: "
                             "GPU = nvidia not met")


@pytest.mark.parametrize("body, status, message", [
    ({"requirements": "CPUS >"}, 400, "expected a value (number, \"string\" or word), found the end"),
    ({"requirements": "__import__('os').system('id')"}, 400, "unexpected character"),
    ({"requirements": "A = 1 | " * 200 + "A = 1"}, 400, "requirements: String should have at most 1024"),
    ({"rank": "-FREE_MEMORY"}, 400, "rank '-FREE_MEMORY' is not one of pack, stripe, load"),
    ({"rank": 7}, 400, "rank: Input should be a valid string"),
])
def test_rest_refuses_broken_or_hostile_scheduling_input_and_makes_nothing(
        cloud: Cloud, admin: Principal, image: int, body: dict[str, Any], status: int, message: str) -> None:
    http = TestClient(cloud.app)
    answer = http.post("/api/v1/vms", auth=BOB, json={"image": image, "type": "t1.micro", **body})
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]["message"]
    assert cloud.compute.list(admin)[0] == []


def test_the_service_refuses_a_bad_expression_before_any_vm_exists(cloud: Cloud, admin: Principal,
                                                                    image: int) -> None:
    with pytest.raises(InvalidInput, match=re.escape("expected ')', found the end at 10")):
        cloud.compute.run(admin, RunInstance(image, requirements="(CPUS = 1"))
    assert cloud.compute.list(admin)[0] == []


def test_xmlrpc_template_sched_requirements_and_rank(cloud: Cloud, admin: Principal,
                                                     image: int) -> None:
    http = TestClient(cloud.app)
    template = (f'NAME="x"\nCPU="1"\nMEMORY="256"\nDISK=[IMAGE_ID="{image}"]\n'
                'SCHED_REQUIREMENTS="ARCH = x86_64"\nSCHED_RANK="-RUNNING_VMS"\n')
    ok, vm_id, _ = rpc(http, "one.vm.allocate", template)[:3]
    assert ok is True
    vm = cloud.compute.get(admin, vm_id)
    assert (vm.spec.requirements, vm.spec.sched_policy) == ("ARCH = x86_64", "pack")
    bad = template.replace('SCHED_RANK="-RUNNING_VMS"', 'SCHED_RANK="MEMORY * 2"')
    refused = rpc(http, "one.vm.allocate", bad)
    assert refused[0] is False and "rank 'MEMORY * 2' is not one of" in refused[1]
    broken = template.replace('"ARCH = x86_64"', '"ARCH = = x86_64"')
    refused = rpc(http, "one.vm.allocate", broken)
    assert refused[0] is False and "requirements 'ARCH = = x86_64'" in refused[1]
    assert [v.id for v in cloud.compute.list(admin)[0]] == [vm_id]
