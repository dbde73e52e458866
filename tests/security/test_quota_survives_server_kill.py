"""Issue 12 item 9 (never drifting): a server killed with SIGKILL between reserving a VM and
starting it comes back with usage that still matches the VMs, and the quota still holds; the
`stratus quota` commands show and set it (administrators only)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.net import free_port
from tests.helpers.servers import Server

pytestmark = pytest.mark.e2e
ALICE = {"user": "alice", "password": "alicepw"}


def held(srv: Server) -> dict[str, int]:
    """What alice's VMs hold, from the VM listing itself."""
    vms = [v for v in srv.cli_json("describe-instance", **ALICE)
           if v["state"] not in ("done", "failed")]
    return {"vms": len(vms), "cpu": sum(v["vcpu"] for v in vms),
            "memory_mib": sum(v["memory_mib"] for v in vms),
            "disk_gb": sum(v["disk_gb"] for v in vms)}


def usage(srv: Server) -> dict[str, Any]:
    [mine, _group] = srv.cli_json("quota", **ALICE)
    assert mine["kind"] == "user" and mine["name"] == "alice"
    return {k: mine["usage"][k] for k in ("vms", "cpu", "memory_mib", "disk_gb")}


def wait_state(srv: Server, vm_id: int, states: tuple[str, ...], timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = srv.cli_json("describe-instance", str(vm_id), **ALICE)[0]["state"]
        if state in states:
            return str(state)
        time.sleep(0.3)
    raise AssertionError(f"VM {vm_id} stayed {state}, never reached {states} in {timeout} s")


def test_usage_matches_vms_after_sigkill_between_reserve_and_boot(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", free_port(), args=["--hypervisor", "simulated"],
                 env={"STRATUSLAB_HYPERVISOR_SIMULATED_BOOT_DELAY": "600"})
    srv.start()
    try:
        img = tmp_path / "d.raw"
        img.write_bytes(b"x" * 1024)
        image = srv.cli("image", "register", "d", str(img), "--public").stdout.strip()
        srv.cli("user", "create", "alice", "--password", "alicepw")
        srv.cli("quota", "set", "--user", "alice", "--vms", "2", "--cpu", "2")
        refused = srv.cli("quota", "set", "--user", "alice", "--vms", "99", check=False, **ALICE)
        assert refused.returncode != 0 and "may not change quotas" in refused.stderr

        [vm] = srv.cli_json("run-instance", image, "-t", "t1.micro", "--no-wait", **ALICE)
        wait_state(srv, vm["id"], ("boot",))  # reserved, deploying: the server dies here
        srv.kill(signal.SIGKILL)
        srv.env["STRATUSLAB_HYPERVISOR_SIMULATED_BOOT_DELAY"] = "0"
        srv.start()
        assert usage(srv) == held(srv) == {"vms": 1, "cpu": 1, "memory_mib": 512, "disk_gb": 1}
        wait_state(srv, vm["id"], ("running",))
        assert usage(srv) == held(srv)

        [second] = srv.cli_json("run-instance", image, "-t", "t1.micro", "--no-wait", **ALICE)
        third = srv.cli("run-instance", image, "-t", "t1.micro", "--no-wait", check=False,
                        **ALICE)
        assert third.returncode != 0
        assert "user alice's quota of 2 VMs would be exceeded: 2 in use, 1 more asked" \
            in third.stderr
        assert "stratus quota set --user alice --vms N" in third.stderr
        assert usage(srv) == held(srv) == {"vms": 2, "cpu": 2, "memory_mib": 1024, "disk_gb": 2}

        srv.cli("kill-instance", str(vm["id"]), str(second["id"]), **ALICE)
        for ident in (vm["id"], second["id"]):
            wait_state(srv, ident, ("done",))
        assert usage(srv) == held(srv) == {"vms": 0, "cpu": 0, "memory_mib": 0, "disk_gb": 0}
        shown = srv.cli("quota", "--user", "alice").stdout
        assert "user alice (own limits)" in shown and "unlimited" in shown
    finally:
        srv.stop()
        srv.reap()
