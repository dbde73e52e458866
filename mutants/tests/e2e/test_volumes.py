"""Issue 4 end to end on the simulated hypervisor: persistent volumes through a real
stratus-server and the real `stratus` CLI (create, describe, update, attach at launch and by
hot-plug, one writer, delete guard, VM kill, quarantine of the root volume, quotas, restarts,
bad input, the pdisk paths).  The real-guest, real-tgt half lives in test_volumes_guests.py."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from tests.helpers.servers import BIN, Server, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("volumes")
    cfg = base / "cfg.toml"
    cfg.write_text("[storage]\nuser_max_gb = 60\n")
    server = Server(base / "data", free_port(), args=["--hypervisor", "simulated",
                                                      "--config", str(cfg)])
    server.start()
    server.cli("user", "create", "bob", "--password", "bobpw")
    img = base / "disk.raw"
    img.write_bytes(os.urandom(65536))
    server.image = server.cli("image", "register", "base", str(img), "--public").stdout.strip()  # type: ignore[attr-defined]
    yield server
    server.stop()
    server.reap()


def create(srv: Server, *args: str, user: str = "admin", password: str = "adminpw") -> str:
    out = srv.cli("create-volume", *args, user=user, password=password).stdout.split()
    assert out[0] == "DISK" and len(out) == 2
    return out[1]


def volume(srv: Server, uuid: str) -> dict:
    [vol] = srv.cli_json("describe-volumes", uuid)
    return vol


def refused(srv: Server, *args: str, **kw: str) -> str:
    res = srv.cli(*args, check=False, **kw)  # type: ignore[arg-type]
    assert res.returncode != 0, res.stdout
    assert res.stderr.startswith("Error: "), res.stderr
    return res.stderr


def test_create_describe_update_delete_with_the_json_contract(srv: Server) -> None:
    uuid = create(srv, "-s", "2", "-t", "results")
    listed = {v["id"]: v for v in srv.cli_json("describe-volumes")}
    assert {"id", "size", "tag", "owner", "attached_to"} <= listed[uuid].keys()
    assert (listed[uuid]["size"], listed[uuid]["tag"], listed[uuid]["owner"]) == (2, "results", "admin")
    assert listed[uuid]["attached_to"] == []
    create(srv, "-s", "1", "-t", "other")
    found = srv.cli_json("describe-volumes", "-f", "tag:^res", "-f", "size:^2$")
    assert [v["id"] for v in found] == [uuid]
    assert "tag='results2' public" in srv.cli("update-volume", uuid, "-t", "results2", "--public").stdout
    assert srv.cli("delete-volume", uuid).stdout.strip() == f"DELETED {uuid}"
    assert uuid not in {v["id"] for v in srv.cli_json("describe-volumes")}


def test_bad_input_is_refused_and_private_volumes_of_others_are_not_found(srv: Server) -> None:
    assert "between 1 and 1024 GiB" in refused(srv, "create-volume", "-s", "0")
    assert "2000 GiB" in refused(srv, "create-volume", "-s", "2000")
    assert "41 characters" in refused(srv, "create-volume", "-s", "1", "-t", "x" * 41)
    mine = create(srv, "-s", "1", "-t", "secret")
    assert f"volume {mine} does not exist" in refused(
        srv, "describe-volumes", mine, user="bob", password="bobpw")  # fmt: skip
    assert "does not exist" in refused(srv, "delete-volume", mine, user="bob", password="bobpw")
    resp = httpx.get(f"{srv.endpoint}/api/v1/volumes/{mine}", auth=("bob", "bobpw"))
    assert resp.status_code == 404
    assert mine not in {v["id"] for v in srv.cli_json("describe-volumes", user="bob",
                                                      password="bobpw")}  # fmt: skip
    public = create(srv, "-s", "1", "--public")
    assert volume(srv, public)["visibility"] == "public"
    assert "only its owner" in refused(srv, "delete-volume", public, user="bob", password="bobpw")


def test_one_writer_attach_at_launch_hotplug_kill_and_root_quarantine(srv: Server) -> None:
    disk = create(srv, "-s", "1", "-t", "data")
    [vm] = srv.cli_json("run-instance", srv.image, "--persistent-disk", disk)  # type: ignore[attr-defined]
    assert vm["state"] == "running"
    assert volume(srv, disk)["attached_to"] == [vm["id"]]
    err = refused(srv, "run-instance", srv.image, "--persistent-disk", disk)  # type: ignore[attr-defined]
    assert f"attached to VM {vm['id']}" in err
    assert f"attached to VM {vm['id']}" in refused(srv, "delete-volume", disk)

    # hot-plug into a second VM is refused naming the holder; a free volume plugs in
    [other] = srv.cli_json("run-instance", srv.image)  # type: ignore[attr-defined]
    assert f"attached to VM {vm['id']}" in refused(srv, "attach-volume", "-i", str(other["id"]), disk)
    spare = create(srv, "-s", "1")
    out = srv.cli("attach-volume", "-i", str(other["id"]), spare).stdout
    assert out.startswith(f"ATTACHED {spare} VM {other['id']} DEVICE vd")
    assert srv.cli("detach-volume", "-i", str(other["id"]), spare).stdout.startswith("DETACHED")
    assert volume(srv, spare)["attached_to"] == []

    # volatile disks are listed as volumes while their VM lives
    roots = [v for v in srv.cli_json("describe-volumes", "-f", "kind:root")
             if v["vm_id"] == vm["id"]]  # fmt: skip
    assert len(roots) == 1 and roots[0]["state"] == "ready"

    # killing the VM detaches the volume intact and quarantines its root volume
    srv.cli("kill-instance", str(vm["id"]), str(other["id"]))
    kept = volume(srv, disk)
    assert kept["attached_to"] == [] and kept["state"] == "ready" and kept["owner"] == "admin"
    quarantined = {v["vm_id"]: v for v in srv.cli_json("storage", "quarantine", "list")}
    assert vm["id"] in quarantined and quarantined[vm["id"]]["kind"] == "root"
    root = quarantined[vm["id"]]["id"]
    assert vm["id"] in {q["id"] for q in srv.cli_json("quarantine", "list")}
    assert srv.cli("storage", "quarantine", "purge", root).stdout.strip() == f"PURGED {root}"
    assert vm["id"] not in {q["id"] for q in srv.cli_json("quarantine", "list")}  # its bytes too
    assert vm["id"] not in {v["vm_id"] for v in srv.cli_json("storage", "quarantine", "list")}
    assert "admin" in refused(srv, "storage", "quarantine", "list", user="bob", password="bobpw")
    srv.cli("delete-volume", disk, spare)


def test_volatile_disks_are_listed_while_their_vm_lives(srv: Server) -> None:
    [vm] = srv.cli_json("run-instance", srv.image, "--volatile-disk", "3")  # type: ignore[attr-defined]
    scratch = [v for v in srv.cli_json("describe-volumes", "-f", "kind:volatile")
               if v["vm_id"] == vm["id"]]  # fmt: skip
    assert [v["size"] for v in scratch] == [3]
    srv.cli("kill-instance", str(vm["id"]))
    left = srv.cli_json("describe-volumes", "-f", "kind:volatile")
    assert vm["id"] not in {v["vm_id"] for v in left}


def test_quota_exceeded_is_refused_cleanly(srv: Server) -> None:
    used = sum(v["size"] for v in srv.cli_json("describe-volumes", "-f", "owner:^admin$")
               if v["kind"] != "root")  # fmt: skip
    big = create(srv, "-s", str(60 - used))
    err = refused(srv, "create-volume", "-s", "1", "-t", "one-too-many")
    assert "storage quota of user admin exceeded" in err and "quota: 60 GiB" in err
    assert "one-too-many" not in str(srv.cli_json("describe-volumes"))
    srv.cli("delete-volume", big)
    srv.cli("delete-volume", create(srv, "-s", "1"))


def test_server_kill_and_restart_keeps_attachments(srv: Server) -> None:
    disk = create(srv, "-s", "1")
    [vm] = srv.cli_json("run-instance", srv.image, "--persistent-disk", disk)  # type: ignore[attr-defined]
    srv.kill()
    srv.start()
    assert volume(srv, disk)["attached_to"] == [vm["id"]]
    assert f"attached to VM {vm['id']}" in refused(srv, "delete-volume", disk)
    srv.cli("kill-instance", str(vm["id"]))
    srv.cli("delete-volume", disk)


def test_pdisk_paths_and_classic_command_names(srv: Server) -> None:
    auth = ("admin", "adminpw")
    form = {"content-type": "application/x-www-form-urlencoded", "accept": "application/json"}
    made = httpx.post(f"{srv.endpoint}/pdisk/pswd/disks", content="size=1&tag=pd&visibility=PRIVATE",
                      headers=form, auth=auth)  # fmt: skip
    assert made.status_code == 201
    uuid = made.json()["uuid"]
    disk = httpx.get(f"{srv.endpoint}/pdisk/disks/{uuid}", auth=auth).json()
    assert disk["type"] == "DATA_IMAGE_RAW_READ_WRITE" and disk["count"] == 0 and disk["size"] == 1
    bad = httpx.post(f"{srv.endpoint}/pdisk/disks", content="size=2000", headers=form, auth=auth)
    assert bad.status_code == 400 and bad.json()["code"] == 400 and "1024" in bad.json()["message"]
    res = subprocess.run(
        [str(BIN / "stratus-describe-volumes"), "--endpoint", srv.endpoint, "-u", "admin", "-p",
         "adminpw", "--json", uuid],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "STRATUSLAB_CONFIG": "/nonexistent"},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert httpx.delete(f"{srv.endpoint}/pdisk/disks/{uuid}", auth=auth).status_code == 200
