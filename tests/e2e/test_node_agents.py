"""A front end and two `stratus-node` agents on loopback, every one a real process (simulated
hypervisor in the agents): enrolment through the CLI (hostile tokens refused), VMs placed on
both hosts and run by their agents, an agent killed with SIGKILL (its VMs stay running, its
state comes back after the restart), a revoked host refused by the front end, and an agent
refusing a caller whose certificate another CA signed."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.helpers.agents import Agent, enrolled_agent, front_end, host_state
from tests.helpers.servers import Server, wait_state
from tests.helpers.waits import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, Path]]:
    base = tmp_path_factory.mktemp("agents")
    srv, url = front_end(base)
    try:
        yield srv, url, base
    finally:
        srv.stop()
        srv.reap()


def _vm_on(srv: Server, image: str, host: str, others: list[str]) -> int:
    """Run one VM with every other host disabled (the scheduler has one choice)."""
    for name in others:
        srv.cli("host", "disable", name)
    srv.cli("host", "enable", host)
    [vm] = srv.cli_json("run-instance", image, "--no-wait")
    for name in others:
        srv.cli("host", "enable", name)
    return int(vm["id"])


def _image(srv: Server, base: Path) -> str:
    disk = base / "disk.raw"
    disk.write_bytes(b"\0" * 65536)
    return srv.cli("image", "register", "base", str(disk)).stdout.strip()


def _simulated_vms(agent: Agent) -> set[int]:
    return {int(p.stem.removeprefix("vm-")) for p in (agent.data_dir / "simulated").glob("vm-*.json")}


def test_two_agents_run_vms_survive_a_kill_and_a_revoked_host_is_refused(
        bed: tuple[Server, str, Path]) -> None:
    srv, url, base = bed
    a = enrolled_agent(srv, base, "node-a", url)
    b = enrolled_agent(srv, base, "node-b", url)
    try:
        shown = srv.cli_json("host", "show", "node-a")
        assert shown["attributes"]["AGENT_URL"] == f"https://127.0.0.1:{a.port}"
        assert shown["cpus"] >= 1 and shown["heartbeat_at"]
        image = _image(srv, base)
        hosts = ["localhost", "node-a", "node-b"]
        on_a = _vm_on(srv, image, "node-a", [h for h in hosts if h != "node-a"])
        on_b = _vm_on(srv, image, "node-b", [h for h in hosts if h != "node-b"])
        for vm_id, host in ((on_a, "node-a"), (on_b, "node-b")):
            vm = wait_state(srv, vm_id, "running")
            assert vm["host"] == host
        # each agent runs its own guest, and only it
        assert on_a in _simulated_vms(a) and on_a not in _simulated_vms(b)
        assert on_b in _simulated_vms(b) and on_b not in _simulated_vms(a)
        assert not list((srv.data_dir / "simulated").glob(f"vm-{on_a}.json"))

        # SIGKILL of agent a: its VM keeps its state; the restarted agent reports it again
        a.kill()
        assert on_a in _simulated_vms(a)
        assert wait_state(srv, on_a, "running")["host"] == "node-a"
        a.start()
        srv.cli("kill-instance", str(on_a))
        wait_state(srv, on_a, "done")
        wait_until(lambda: on_a not in _simulated_vms(a), timeout=60,
                   message=lambda: f"VM {on_a} still on node-a: {_simulated_vms(a)}")

        # revoking node-b: the front end refuses its reports and stops calling it
        out = srv.cli("host", "revoke", "node-b").stdout
        assert "1 certificate(s) revoked" in out
        assert host_state(srv, "node-b") == "offline"
        wait_until(lambda: "revoked or unknown" in b.log(), timeout=60,
                   message=lambda: f"agent b was not refused: {b.log()[-2000:]}")
        refused = _report_as(b, url)
        assert refused.status_code == 401 and "revoked" in refused.text
    finally:
        a.kill()
        b.kill()


def _report_as(agent: Agent, url: str) -> httpx.Response:
    where = agent.data_dir / "agent"
    context = ssl.create_default_context(cafile=str(where / "ca.pem"))
    context.load_cert_chain(str(where / "host.pem"), str(where / "host.key"))
    body = {"version": "x", "endpoint": f"https://127.0.0.1:{agent.port}"}
    return httpx.post(f"{url}/api/v1/agent/report", json=body, verify=context, timeout=30)


def test_hostile_enrolments_are_refused(bed: tuple[Server, str, Path]) -> None:
    srv, url, base = bed
    token = srv.cli("host", "add", "node-c").stdout.splitlines()[1].strip()
    other = Agent(base, "node-d", url)
    wrong = other.enroll(token, name="node-d", check=False)  # a token for another host name
    assert wrong.returncode != 0 and "issued for host 'node-c'" in wrong.stderr
    c = Agent(base, "node-c", url)
    assert "host node-c enrolled" in c.enroll(token).stdout
    reused = Agent(base, "node-c2", url).enroll(token, name="node-c", check=False)
    assert reused.returncode != 0 and "unknown, already used or expired" in reused.stderr
    secret = token.split(".")[0]
    forged = Agent(base, "node-c3", url).enroll(f"{secret}.{'ab' * 32}", name="node-c",
                                                check=False)
    assert forged.returncode != 0 and "does not serve the cloud CA" in forged.stderr
    unenrolled = Agent(base, "node-e", url).command("run", "--data-dir", str(base / "node-e"),
                                                    "--hypervisor", "simulated",
                                                    "--listen", "127.0.0.1:0", check=False)
    assert unenrolled.returncode != 0 and "this host is not enrolled" in unenrolled.stderr
    users = srv.cli("host", "add", "node-f", user="nobody", password="x", check=False)
    assert users.returncode != 0


def test_an_agent_refuses_callers_the_cloud_ca_did_not_sign(
        bed: tuple[Server, str, Path], tmp_path: Path) -> None:
    from stratuslab.drivers.pki import CloudCA

    srv, url, base = bed
    g = enrolled_agent(srv, base, "node-g", url)
    try:
        stranger = CloudCA(tmp_path / "other")
        stranger.init(["localhost"])
        cert, key = stranger.front_end_files()
        ours = g.data_dir / "agent" / "ca.pem"
        # a front-end certificate of another CA: refused by the agent
        context = ssl.create_default_context(cafile=str(ours))
        context.check_hostname = False
        context.load_cert_chain(str(cert), str(key))
        answer = httpx.get(f"https://127.0.0.1:{g.port}/agent/v1/info", verify=context)
        assert answer.status_code == 401
        # another host's certificate (signed by the cloud CA, role host): refused too
        host = g.data_dir / "agent"
        context = ssl.create_default_context(cafile=str(ours))
        context.check_hostname = False
        context.load_cert_chain(str(host / "host.pem"), str(host / "host.key"))
        answer = httpx.post(f"https://127.0.0.1:{g.port}/agent/v1/call", verify=context,
                            json={"port": "hypervisor", "method": "list_vms", "args": {}})
        assert answer.status_code == 401 and "not a front end" in answer.text
        # the front end's own certificate: answered; a call outside the ports' table: refused
        fe_cert, fe_key = CloudCA(srv.data_dir / "ca").front_end_files()
        context = ssl.create_default_context(cafile=str(ours))
        context.check_hostname = False
        context.load_cert_chain(str(fe_cert), str(fe_key))
        info = httpx.get(f"https://127.0.0.1:{g.port}/agent/v1/info", verify=context).json()
        assert (info["host"], info["driver"]) == ("node-g", "simulated")
        bad = httpx.post(f"https://127.0.0.1:{g.port}/agent/v1/call", verify=context,
                         json={"port": "hypervisor", "method": "__init__", "args": {}})
        assert bad.status_code == 400 and "not a call" in bad.text
        crafted = httpx.post(f"https://127.0.0.1:{g.port}/agent/v1/call", verify=context,
                             json={"port": "hypervisor", "method": "kill",
                                   "args": {"handle": {"vm_id": "1; rm -rf /", "host": "x"}}})
        assert crafted.status_code == 400 and json.loads(crafted.text)["error"]["kind"] == \
            "invalid"
    finally:
        g.kill()


def test_an_agent_outlives_its_front_end_and_re_syncs(bed: tuple[Server, str, Path]) -> None:
    srv, url, base = bed
    h = enrolled_agent(srv, base, "node-h", url)
    try:
        before = srv.cli_json("host", "show", "node-h")["heartbeat_at"]
        srv.kill()  # SIGKILL of the front end
        wait_until(lambda: "cannot report to the front end" in h.log(), timeout=60,
                   message=lambda: f"agent h never noticed: {h.log()[-2000:]}")
        assert h.proc is not None and h.proc.poll() is None  # the agent keeps serving
        srv.start()
        wait_until(lambda: "re-synced" in h.log(), timeout=60,
                   message=lambda: f"agent h never re-synced: {h.log()[-2000:]}")
        assert srv.cli_json("host", "show", "node-h")["heartbeat_at"] > before
        assert host_state(srv, "node-h") == "monitored"
    finally:
        h.kill()
