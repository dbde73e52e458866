"""The foundation's outside contract: stratus-server all-in-one driven by the real `stratus` CLI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.helpers.servers import BIN, Server, wait_api_state
from tests.helpers.waits import finished_job

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def image_id(server: Server, tmp_path_factory: pytest.TempPathFactory) -> str:
    f = tmp_path_factory.mktemp("img") / "disk.raw"
    f.write_bytes(os.urandom(65536))
    out = server.cli("image", "register", "base", str(f), "--public").stdout.strip()
    assert out.isdigit()
    return out


def test_run_describe_kill_with_json_contract(server: Server, image_id: str) -> None:
    vms = server.cli_json("run-instance", image_id, "-n", "2", "--vm-name", "node")
    assert [vm["state"] for vm in vms] == ["running", "running"]
    listed = server.cli_json("describe-instance", *(str(v["id"]) for v in vms))
    for vm in listed:
        assert {"id", "name", "state", "owner", "ip", "host", "error"} <= vm.keys()
        assert vm["owner"] == "admin" and vm["host"] == "localhost"
    res = server.cli("kill-instance", *(str(v["id"]) for v in vms))
    assert "done" in res.stdout
    # not a terminal: each job's steps are lines on stderr, the last one where it ended
    ends = {f"kill 2 VM(s): VM {v['id']}: now done" for v in vms}
    assert ends <= set(res.stderr.splitlines()), res.stderr


#: what a deploy job shows, in order (the CLI sees those its polls catch): its state until the
#: executor records its first step, then the steps
DEPLOY_STEPS = ["queued", "running", "waiting for a host", "prolog: disks over the image on localhost",
                "boot on localhost", "now running"]


def test_run_instance_and_actions_show_the_steps_of_their_jobs(
        server: Server, image_id: str) -> None:
    res = server.cli("run-instance", image_id, "-q")
    vm_id = res.stdout.split(",")[0]
    lines = res.stderr.splitlines()
    prefix = "starting 1 VM(s): "
    assert lines and all(line.startswith(prefix) for line in lines), res.stderr
    steps = [line.removeprefix(prefix) for line in lines]
    assert steps[-1] == "now running", res.stderr
    assert steps == sorted(steps, key=DEPLOY_STEPS.index), res.stderr  # in order, none unknown
    stopped = server.cli("shutdown-instance", vm_id)
    assert stopped.stdout.strip() == f"{vm_id} done"
    assert stopped.stderr.splitlines()[-1] == "shutdown 1 VM(s): now done", stopped.stderr


def test_nic_commands_wait_for_their_jobs_and_say_what_they_did(
        server: Server, image_id: str) -> None:
    [vm] = server.cli_json("run-instance", image_id)
    vm_id = str(vm["id"])
    res = server.cli("nic", "attach", vm_id, "private")
    assert res.stdout.startswith(f"ATTACHED NIC 1 VM {vm_id} NETWORK private MAC 02:00:"), res
    # not a terminal: the progress display is one line per step of the job, on stderr
    assert res.stderr.splitlines()[-1] == f"NIC on private for VM {vm_id}: done", res.stderr
    rows = server.cli_json("nic", "list", vm_id)
    assert [(r["id"], r["name"], r["state"], r["owner"]) for r in rows] == [
        ("0", "public", "attached", "admin"), ("1", "private", "attached", "admin")]
    refused = server.cli("nic", "detach", vm_id, "0", check=False)
    assert refused.returncode == 2 and "only the last NIC (1)" in refused.stderr, refused.stderr
    queued = server.cli("nic", "detach", vm_id, "1", "--no-wait").stdout
    assert queued.startswith("JOB ") and "queued" in queued, queued
    done: Any = finished_job(
        lambda path: dict(httpx.get(server.endpoint + path, auth=("admin", "adminpw")).json()),
        {"id": queued.split()[1]})
    assert done["state"] == "done" and done["result"]["nic_id"] == "1", done
    assert [r["id"] for r in server.cli_json("nic", "list", vm_id)] == ["0"]
    server.cli("kill-instance", vm_id)


def test_save_disk_of_a_powered_off_vm_prints_the_new_image(server: Server, image_id: str) -> None:
    [vm] = server.cli_json("run-instance", image_id)
    vm_id = str(vm["id"])
    refused = server.cli("save-disk", vm_id, "too-soon", check=False)
    assert refused.returncode == 4 and "power it off first" in refused.stderr, refused.stderr
    server.cli("poweroff-instance", vm_id)
    saved = server.cli("save-disk", vm_id, "saved-web").stdout.strip()
    assert saved.isdigit() and saved != image_id, saved
    [image] = [i for i in server.cli_json("image", "list") if str(i["id"]) == saved]
    assert (image["name"], image["state"]) == ("saved-web", "ready")
    server.cli("kill-instance", vm_id)


def test_quiet_run_prints_id_and_ip_and_idempotency_key_dedups(server: Server, image_id: str) -> None:
    first = server.cli("run-instance", image_id, "-q", "--idempotency-key", "abc").stdout
    again = server.cli("run-instance", image_id, "-q", "--idempotency-key", "abc").stdout
    assert first == again and first.strip().split(",")[0].isdigit()


def test_classic_command_names_are_aliases(server: Server, image_id: str) -> None:
    base = ["--endpoint", server.endpoint, "-u", "admin", "-p", "adminpw"]
    env = {**os.environ, "STRATUSLAB_CONFIG": "/nonexistent"}
    run = subprocess.run([str(BIN / "stratus-run-instance"), *base, image_id, "-q"],
                         capture_output=True, text=True, env=env, timeout=60, check=True)
    vm_id = run.stdout.split(",")[0]
    desc = subprocess.run([str(BIN / "stratus-describe-instance"), *base, vm_id],
                          capture_output=True, text=True, env=env, timeout=60, check=True)
    assert "running" in desc.stdout
    subprocess.run([str(BIN / "stratus-shutdown-instance"), *base, vm_id], env=env, timeout=60,
                   check=True, capture_output=True)
    subprocess.run([str(BIN / "stratus-kill-instance"), *base, vm_id], env=env, timeout=60,
                   check=False, capture_output=True)


def test_users_are_isolated_and_errors_are_clear(server: Server, image_id: str) -> None:
    server.cli("user", "create", "bob", "--password", "bobpw1")
    [mine] = server.cli_json("run-instance", image_id)
    other = server.cli("describe-instance", str(mine["id"]), user="bob", password="bobpw1", check=False)
    assert other.returncode != 0
    assert f"Error: VM {mine['id']} does not exist" in other.stderr
    assert server.cli_json("describe-instance", user="bob", password="bobpw1") == []
    bad = server.cli("run-instance", image_id, "--cpu", "-1", check=False)
    assert bad.returncode != 0 and "--cpu -1 is out of range" in bad.stderr
    bad = server.cli("run-instance", image_id, "-t", "m9.huge", check=False)
    assert "instance type 'm9.huge' does not exist" in bad.stderr
    bad = server.cli("suspend-instance", "999999", check=False)
    assert "VM 999999 does not exist" in bad.stderr
    wrong = server.cli("describe-instance", password="nope", check=False)
    assert wrong.returncode != 0 and "authentication failed" in wrong.stderr


def test_rest_errors_have_one_json_shape(server: Server, image_id: str) -> None:
    auth = ("admin", "adminpw")
    r = httpx.post(server.endpoint + "/api/v1/vms", content=b"{not json", auth=auth,
                   headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["kind"] == "invalid"
    assert "the body is not valid JSON" in r.json()["error"]["message"]
    r = httpx.post(server.endpoint + "/api/v1/vms", json={"image": 424242}, auth=auth)
    assert r.status_code == 404 and "image 424242 does not exist" in r.json()["error"]["message"]
    [vm] = httpx.post(server.endpoint + "/api/v1/vms", json={"image": int(image_id), "hold": True},
                      auth=auth).json()["vms"]
    r = httpx.post(server.endpoint + f"/api/v1/vms/{vm['id']}/actions/suspend", auth=auth)
    assert r.status_code == 409
    assert "is hold; cannot suspend (allowed from: running)" in r.json()["error"]["message"]
    r = httpx.get(server.endpoint + "/api/v1/vms")
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers
    assert httpx.get(server.endpoint + "/api/v1/openapi.json").json()["info"]["title"] == "StratusLab"


def test_list_types_shows_stratuslab_table(server: Server) -> None:
    types = {t["name"]: t for t in server.cli_json("list-types")}
    assert types["m1.small"]["default"] and types["c1.medium"]["cpu"] == 2


def test_server_killed_mid_job_resumes_after_restart(tmp_path: Path) -> None:
    from tests.helpers.servers import free_port

    srv = Server(tmp_path / "data", free_port(), args=["--hypervisor", "simulated"],
                 env={"STRATUSLAB_HYPERVISOR_SIMULATED_BOOT_DELAY": "3"})
    srv.start()
    try:
        img = tmp_path / "d.raw"
        img.write_bytes(b"x" * 1024)
        image = srv.cli("image", "register", "d", str(img)).stdout.strip()
        [vm] = srv.cli_json("run-instance", image, "--no-wait")
        import time
        wait_api_state(srv, vm["id"], "boot", timeout=30)  # the server dies inside the 3 s boot
        srv.kill()
        srv.start()
        srv.cli("job", "list")  # server answers
        deadline = time.monotonic() + 40
        state = ""
        while time.monotonic() < deadline:
            state = srv.cli_json("describe-instance", str(vm["id"]))[0]["state"]
            if state == "running":
                break
            time.sleep(0.5)
        assert state == "running"
        assert len(srv.cli_json("describe-instance")) == 1
    finally:
        srv.stop()
        srv.reap()


def test_db_upgrade_command_and_refusal_on_old_schema(tmp_path: Path) -> None:
    data = tmp_path / "d"
    env = {**os.environ}
    from stratuslab.persistence import db

    engine = db.make_engine(f"sqlite:///{data}/stratuslab.db")
    db.upgrade(engine)
    db.downgrade(engine, "base")
    engine.dispose()
    res = subprocess.run([str(BIN / "stratus-server"), "--data-dir", str(data),
                          "--listen", "127.0.0.1:1"], capture_output=True, text=True, env=env,
                         timeout=60)
    assert res.returncode != 0
    assert "stratus-server db upgrade" in res.stderr
    res = subprocess.run([str(BIN / "stratus-server"), "db", "upgrade", "--data-dir", str(data)],
                         capture_output=True, text=True, env=env, timeout=60, check=True)
    assert "database at revision" in res.stdout
