"""Issue 3 end to end: a real QEMU guest (TCG) through the server and the CLI."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.servers import CACHE, Server, free_port, wait_console, wait_state

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

@pytest.fixture(scope="module")
def qemu_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from stratuslab.drivers.network.bridge.namespace import create_netns, delete_netns

    base = tmp_path_factory.mktemp("realvm")
    # the host end of the data plane lives in a namespace of this test, not on the real host
    host, plane = (f"slt{os.getpid() % 100000}-rv{role}" for role in ("host", "dp"))
    create_netns(host)
    cfg = base / "cfg.toml"
    cfg.write_text(f'[images]\nbuild_cache = "{CACHE}/images"\n[qemu]\naccel = "tcg"\n'
                   '[hypervisor]\nshutdown_timeout = 10\n'
                   f'[network]\nhost_netns = "{host}"\nnetns = "{plane}"\n')
    srv = Server(base / "data", free_port(), args=["--config", str(cfg)])
    try:
        srv.start()
        yield srv
        for vm in srv.cli_json("describe-instance"):
            srv.cli("kill-instance", str(vm["id"]), check=False)
    finally:
        srv.stop()
        srv.reap()
        for ns in (plane, host):
            delete_netns(ns)


@pytest.fixture(scope="module")
def tiny(qemu_server: Server) -> str:
    first = qemu_server.cli("image", "build", "tiny").stdout.strip()
    again = qemu_server.cli("image", "build", "tiny").stdout.strip()
    assert first.isdigit() and first == again  # a cached build is registered once
    return first


def test_guest_boots_contextualized_survives_restart_suspends_and_is_quarantined(
    qemu_server: Server, tiny: str, tmp_path: Path
) -> None:
    srv = qemu_server
    hostile = "x'; touch /tmp/pwned-by-context; echo '$(reboot)`id`"
    [vm] = srv.cli_json("run-instance", tiny, "--vm-name", "alpha", "-t", "t1.micro",
                        "--ram", "128", "--context", f"HOSTILE={hostile}")
    vm_id = vm["id"]
    assert vm["state"] == "running"
    console = wait_console(srv, vm_id, r"^stratuslab-ready hostname=alpha\b")
    assert "pwned" not in console

    # the server is killed while the VM runs: after the restart the VM is found, not duplicated
    srv.kill()
    srv.start()
    wait_state(srv, vm_id, "running")  # adopted at start-up
    vms = srv.cli_json("describe-instance")
    assert [(v["id"], v["state"]) for v in vms] == [(vm_id, "running")]

    # suspend / resume through memory saved to a file
    srv.cli("suspend-instance", str(vm_id))
    wait_state(srv, vm_id, "suspended")
    srv.cli("resume-instance", str(vm_id))
    wait_state(srv, vm_id, "running")

    srv.cli("kill-instance", str(vm_id))
    wait_state(srv, vm_id, "done")
    quarantined = {q["id"]: q for q in srv.cli_json("quarantine", "list")}
    assert vm_id in quarantined and {"owner", "quarantined_at", "expires_at"} <= quarantined[vm_id].keys()
    shown = srv.cli("quarantine", "show", str(vm_id)).stdout
    assert "console.log" in shown and "root.qcow2" in shown
    events = srv.cli("describe-instance", "-v", str(vm_id)).stdout
    assert "kill: running -> epilog" in events and "epilog -> done" in events


def test_qemu_start_failure_reaches_the_user_and_cleans_up(
    qemu_server: Server, tiny: str, tmp_path: Path
) -> None:
    srv = qemu_server
    # a sound qcow2 is registered, then its stored copy is damaged on the server's disk (an
    # import refuses a damaged file: the start must report QEMU's own words and clean up)
    sound = tmp_path / "sound.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(sound), "64M"], check=True,
                   timeout=60)
    image = srv.cli("image", "register", "corrupt", str(sound)).stdout.strip()
    digest = hashlib.sha1(sound.read_bytes()).hexdigest()
    [stored] = (srv.data_dir / "images").glob(f"{digest}.*")
    stored.write_bytes(b"this is not a qcow2 image\n" * 200)
    res = srv.cli("run-instance", image, "--json", check=False)
    assert res.returncode != 0
    assert "failed" in res.stderr
    [vm] = [v for v in srv.cli_json("describe-instance", "--all") if v["image_id"] == int(image)]
    assert vm["state"] == "failed" and vm["error"]
    assert "qcow2" in vm["error"].lower() or "qemu" in vm["error"].lower()
    assert not (srv.data_dir / "instances" / str(vm["id"])).exists()


def test_bad_vm_input_is_refused(qemu_server: Server, tiny: str) -> None:
    for args, message in [
        (["--volatile-disk", "0"], "volatile disk of 0 GB"),
        (["--volatile-disk", "1000000"], "volatile disk of 1000000 GB"),
    ]:
        res = qemu_server.cli("run-instance", tiny, *args, check=False)
        assert res.returncode != 0 and message in res.stderr
    res = qemu_server.cli("image", "register", "nope", "/nonexistent/disk.qcow2", check=False)
    assert "image file /nonexistent/disk.qcow2 does not exist" in res.stderr


def test_guest_initiated_poweroff_is_detected_and_start_boots_again(
    qemu_server: Server, tiny: str
) -> None:
    from stratuslab.drivers.hypervisor.guestagent import run_in_guest

    srv = qemu_server
    [vm] = srv.cli_json("run-instance", tiny, "--vm-name", "beta", "--ram", "128")
    wait_console(srv, vm["id"], r"^stratuslab-ready hostname=beta\b")
    agent = str(srv.data_dir / "instances" / str(vm["id"]) / "agent.sock")
    rc, out = run_in_guest(agent, "hostname", timeout=30)
    assert (rc, out.strip()) == (0, "beta")
    run_in_guest(agent, "(sleep 1; poweroff -f) >/dev/null 2>&1 &", timeout=30)
    off = wait_state(srv, vm["id"], "poweroff", timeout=30)
    assert off["error"] is None
    events = srv.cli("describe-instance", "-v", str(vm["id"])).stdout
    assert "running -> poweroff" in events
    srv.cli("kill-instance", str(vm["id"]))


def test_occi_save_of_a_powered_off_guest_boots_a_new_vm_with_its_files(
    qemu_server: Server, tiny: str
) -> None:
    import httpx

    from stratuslab.drivers.hypervisor.guestagent import run_in_guest

    srv = qemu_server
    occi = httpx.Client(base_url=f"{srv.endpoint}/occi", auth=("admin", "adminpw"), timeout=60)
    scheme = "http://schemas.ogf.org/occi/infrastructure/compute/action#"
    text = {"Content-Type": "text/plain", "Accept": "text/plain"}

    def action(vm_id: int, term: str, attrs: str = "") -> httpx.Response:
        body = f'Category: {term}; scheme="{scheme}"; class="action"\n{attrs}'
        return occi.post(f"/compute/{vm_id}?action={term}", content=body, headers=text)

    [vm] = srv.cli_json("run-instance", tiny, "--vm-name", "gamma", "--ram", "128")
    wait_console(srv, vm["id"], r"^stratuslab-ready hostname=gamma\b")
    images = {i["id"] for i in srv.cli_json("image", "list")}
    refused = action(vm["id"], "save")
    assert refused.status_code == 409 and "power it off first" in refused.text, refused.text
    assert {i["id"] for i in srv.cli_json("image", "list")} == images

    agent = str(srv.data_dir / "instances" / str(vm["id"]) / "agent.sock")
    rc, _ = run_in_guest(agent, "echo kept-by-save > /root/marker && sync", timeout=30)
    assert rc == 0
    assert action(vm["id"], "stop").status_code == 200
    wait_state(srv, vm["id"], "poweroff", timeout=60)
    saved = action(vm["id"], "save", 'X-OCCI-Attribute: name="gamma-golden"\n')
    assert saved.status_code == 200, saved.text
    [image] = [i for i in srv.cli_json("image", "list") if i["id"] not in images]
    assert image["name"] == "gamma-golden" and image["owner"] == "admin"
    assert f"disk saved as image {image['id']}" in srv.cli("describe-instance", "-v",
                                                           str(vm["id"])).stdout
    again = httpx.post(f"{srv.endpoint}/api/v1/vms/{vm['id']}/save-disk", json={"name": "rest"},
                       auth=("admin", "adminpw"), timeout=60)
    assert again.status_code == 201 and again.json()["sha1"] == image["sha1"], again.text
    srv.cli("kill-instance", str(vm["id"]))

    [copy] = srv.cli_json("run-instance", str(image["id"]), "--vm-name", "delta", "--ram", "128")
    wait_console(srv, copy["id"], r"^stratuslab-ready hostname=delta\b")
    agent = str(srv.data_dir / "instances" / str(copy["id"]) / "agent.sock")
    rc, out = run_in_guest(agent, "cat /root/marker", timeout=30)
    assert (rc, out.strip()) == (0, "kept-by-save")
    srv.cli("kill-instance", str(copy["id"]))
