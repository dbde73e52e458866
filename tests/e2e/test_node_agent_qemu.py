"""A real QEMU guest (TCG, no NIC: remote guest networking does not exist yet) started through a
`stratus-node` agent process: it boots, its console comes through the agent, it keeps running
when the agent is killed with SIGKILL, the restarted agent adopts it (never a second start),
and a kill through the agent ends it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.agents import Agent, enrolled_agent, front_end
from tests.helpers.servers import CACHE, Server, wait_console, wait_state
from tests.helpers.waits import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Agent]]:
    base = tmp_path_factory.mktemp("agentqemu")
    cfg = base / "node.toml"
    cfg.write_text('[qemu]\naccel = "tcg"\n[hypervisor]\nshutdown_timeout = 10\n')
    srv, url = front_end(base, env={"STRATUSLAB_IMAGES_BUILD_CACHE": f"{CACHE}/images"})
    agent: Agent | None = None
    try:
        agent = enrolled_agent(srv, base, "node-q", url, hypervisor="qemu",
                               env={"STRATUSLAB_CONFIG": str(cfg)})
        yield srv, agent
    finally:
        for vm in srv.cli_json("describe-instance"):
            srv.cli("kill-instance", str(vm["id"]), check=False)
        if agent is not None:
            agent.kill()
            _kill_guests(agent)
        srv.stop()
        srv.reap()


def _guest_pids(agent: Agent) -> list[int]:
    pids = []
    for record in (agent.data_dir / "instances").glob("*/driver.json"):
        pid = json.loads(record.read_text()).get("pid")
        if pid and Path(f"/proc/{pid}").exists():
            pids.append(int(pid))
    return pids


def _kill_guests(agent: Agent) -> None:
    for pid in _guest_pids(agent):
        os.kill(pid, 9)


def test_a_tcg_guest_through_an_agent_survives_the_agents_kill(
        bed: tuple[Server, Agent]) -> None:
    srv, agent = bed
    image = srv.cli("image", "build", "tiny").stdout.strip()
    srv.cli("host", "disable", "localhost")
    [vm] = srv.cli_json("run-instance", image, "-t", "t1.micro", "--ram", "128", "--no-wait")
    vm_id = int(vm["id"])
    assert wait_state(srv, vm_id, "running", timeout=180)["host"] == "node-q"
    wait_console(srv, vm_id, r"^stratuslab-ready\b", timeout=300)
    [pid] = _guest_pids(agent)

    agent.kill()  # SIGKILL: the guest is not the agent's child in any way that matters
    assert Path(f"/proc/{pid}").exists()
    agent.start()
    assert _guest_pids(agent) == [pid]  # adopted, not started again
    assert wait_state(srv, vm_id, "running")["host"] == "node-q"
    assert "stratuslab-ready" in srv.cli("console", str(vm_id)).stdout

    srv.cli("kill-instance", str(vm_id))
    wait_state(srv, vm_id, "done", timeout=120)
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), timeout=60,
               message=f"QEMU {pid} still runs after the kill")
