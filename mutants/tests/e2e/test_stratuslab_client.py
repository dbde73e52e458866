"""The StratusLab 14.06 client unchanged, on the simulated hypervisor: each test sends exactly the
requests that client sends (paths with their trailing slashes, form bodies, Basic credentials,
the XML-RPC calls) and reads the answers the way it reads them (StratusLab/client:
volume_manager/PersistentDisk.py, Monitor.py, cloud/one.py).  The client itself is Python 2 and
cannot run here, so its requests are replayed."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
import xmlrpc.client
from collections.abc import Iterator

import httpx
import pytest
from tests.helpers.servers import Server, free_port

pytestmark = pytest.mark.e2e

AUTH = ("admin", "adminpw")
#: what the client's HttpClient sends with a form body (PersistentDisk._postJson)
FORM = {"content-type": "application/x-www-form-urlencoded", "accept": "application/json"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("classic")
    server = Server(base / "data", free_port(), args=["--hypervisor", "simulated"])
    server.start()
    img = base / "disk.raw"
    img.write_bytes(os.urandom(65536))
    server.image = server.cli("image", "register", "base", str(img), "--public").stdout.strip()  # type: ignore[attr-defined]
    yield server
    server.stop()
    server.reap()


def running_vm(srv: Server) -> int:
    [vm] = srv.cli_json("run-instance", srv.image)  # type: ignore[attr-defined]
    assert vm["state"] == "running"
    return int(vm["id"])


@pytest.mark.parametrize("base", ["/pdisk/pswd", "/pswd/pdisk"])
def test_pdisk_volume_life_with_the_clients_trailing_slash_paths(srv: Server, base: str) -> None:
    """stratus-create-volume, -attach-volume, -detach-volume, -delete-volume: no redirect (the
    client cannot follow one for POST or DELETE) and `target` in the mount answers."""
    http = httpx.Client(base_url=srv.endpoint + base, auth=AUTH, follow_redirects=False)
    made = http.post("/disks/", content="size=1&tag=classic&visibility=private", headers=FORM)
    assert made.status_code == 201, made.text
    uuid = made.json()["uuid"]
    assert http.head(f"/disks/{uuid}/").status_code == 200  # volumeExists
    assert http.get(f"/disks/{uuid}/", headers={"accept": "application/json"}).json()["count"] == 0
    assert uuid in {d["uuid"] for d in http.get("/disks/").json()}  # describeVolumes

    vm_id = running_vm(srv)
    mounted = http.post(f"/disks/{uuid}/mounts/", content=f"node=node-1&vm_id={vm_id}",
                        headers=FORM)  # fmt: skip
    assert mounted.status_code == 200, mounted.text  # the client raises on anything else
    target = mounted.json()["target"]
    assert target.startswith("vd")
    detached = http.delete(f"/disks/{uuid}/mounts/{uuid}_{vm_id}",
                           headers={"accept": "application/json"})  # fmt: skip
    assert detached.status_code == 200 and detached.json()["target"] == target

    deleted = http.delete(f"/disks/{uuid}/", headers={"accept": "application/json"})
    assert deleted.status_code == 200 and deleted.json()["uuid"] == uuid
    srv.cli("kill-instance", str(vm_id))


def test_describe_instance_shows_memory_and_the_columns_it_reads(srv: Server) -> None:
    """stratus-describe-instance: one.vmpool.info at /pswd/xmlrpc, then each VM's top-level
    MEMORY (the memory column), CPU, TEMPLATE/VCPU, TEMPLATE/NIC/IP, STATE/LCM_STATE, NAME."""
    vm_id = running_vm(srv)
    host = srv.endpoint.removeprefix("http://")
    proxy = xmlrpc.client.ServerProxy(f"http://admin:adminpw@{host}/pswd/xmlrpc")
    ok, xml, _ = proxy.one.vmpool.info("admin:adminpw", -2, -1, -1, -1)
    assert ok
    vm = next(v for v in ET.fromstring(xml).findall("VM") if v.findtext("ID") == str(vm_id))
    assert int(vm.findtext("MEMORY") or 0) > 0  # KiB, as OpenNebula 3.2 reported it
    assert vm.findtext("CPU") is not None and vm.findtext("TEMPLATE/VCPU")
    assert (vm.findtext("STATE"), vm.findtext("LCM_STATE")) == ("3", "3")  # active / running
    assert vm.findtext("TEMPLATE/NIC/IP") is not None or vm.find("TEMPLATE/NIC") is None
    assert vm.findtext("HISTORY_RECORDS/HISTORY/HOSTNAME")  # attach-volume's getVmNode
    srv.cli("kill-instance", str(vm_id))
