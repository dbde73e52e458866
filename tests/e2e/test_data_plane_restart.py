"""Real guests keep running and keep their network while stratus-server stops and starts again
(SIGTERM and SIGKILL), the restarted server adopts them, and each way back to running (start
after a poweroff across a restart, recover retry after a failed start, resume after suspend,
reboot) ends with a guest that reaches its gateway.  QEMU under TCG; the data plane in a
namespace of this test, the "host" too."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.servers import CACHE, Server, free_port, wait_console, wait_state
from tests.helpers.waits import wait_until

from stratuslab.drivers import _process

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

GATEWAY = "10.254.1.1"
READY = r"^stratuslab-ready hostname=\S+ ipv4=(\S*) ipv6=(\S*)"


def netns_list() -> set[str]:
    out = _process.run(["ip", "netns", "list"], timeout=10).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def guest(srv: Server, vm_id: int, command: str, timeout: float = 60) -> tuple[int, str]:
    from stratuslab.drivers.hypervisor.guestagent import run_in_guest

    return run_in_guest(str(srv.data_dir / "instances" / str(vm_id) / "agent.sock"), command,
                        timeout=timeout)


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if os.geteuid() != 0:
        pytest.skip("real-guest networking needs root (network namespaces)")
    from stratuslab.drivers.network.bridge.namespace import create_netns, delete_netns

    base = tmp_path_factory.mktemp("dprestart")
    host, plane = (f"slt{os.getpid() % 100000}-rs{role}" for role in ("host", "dp"))
    create_netns(host)
    cfg = base / "cfg.toml"
    cfg.write_text(f'[images]\nbuild_cache = "{CACHE}/images"\n[qemu]\naccel = "tcg"\n'
                   f'[hypervisor]\nshutdown_timeout = 5\n'
                   f'[network]\nhost_netns = "{host}"\nnetns = "{plane}"\n')
    srv = Server(base / "data", free_port(), args=["--config", str(cfg)])
    try:
        srv.start()
        yield srv
        for vm in srv.cli_json("describe-instance", check=False):
            srv.cli("kill-instance", str(vm["id"]), check=False)
        srv.stop()
        srv.reap()
        assert plane not in netns_list()
    finally:
        srv.kill()
        srv.reap()
        for ns in (plane, host):
            delete_netns(ns)


def qemu_pids(srv: Server) -> dict[int, int]:
    """VM id -> pid of its QEMU process (found by its instance directory)."""
    found = {}
    for pid_dir in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (pid_dir / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        m = re.search(re.escape(str(srv.data_dir)) + r"/instances/(\d+)/", cmd)
        if m and "qemu-system" in cmd:
            found[int(m.group(1))] = int(pid_dir.name)
    return found


def ping_replies(srv: Server, vm_id: int) -> list[int]:
    """Sequence numbers of the replies the guest's background ping has printed so far."""
    return [int(s) for s in re.findall(r"seq=(\d+)", guest(srv, vm_id, "cat /tmp/ping.log")[1])]


def reaches_gateway(srv: Server, vm_id: int) -> bool:
    try:
        return guest(srv, vm_id, f"ping -c 1 -W 2 {GATEWAY}", timeout=20)[0] == 0
    except Exception:  # the agent is not up yet (the guest is still booting)
        return False


def test_guests_outlive_server_restarts_and_every_way_back_replugs_them(real: Server) -> None:
    srv = real
    tiny = srv.cli("image", "build", "tiny").stdout.strip()
    vms = [srv.cli_json("run-instance", tiny, "--vm-name", n, "--ram", "128")[0]
           for n in ("a", "b")]  # fmt: skip
    for vm in vms:
        wait_console(srv, vm["id"], READY)
    a, b = ({**v, **next(d for d in srv.cli_json("describe-instance") if d["id"] == v["id"])}
            for v in vms)  # fmt: skip
    guest(srv, a["id"], f"setsid ping -i 0.2 {b['ip']} </dev/null >/tmp/ping.log 2>&1 &")
    wait_until(lambda: len(ping_replies(srv, a["id"])) > 3, timeout=120,
               message="a never reached b")
    pids = qemu_pids(srv)
    assert set(pids) == {a["id"], b["id"]}

    # SIGTERM: the server goes, guests and their network stay (the agent socket is QEMU's)
    before = max(ping_replies(srv, a["id"]))  # a reply seen while the server was up
    srv.kill(signal.SIGTERM)
    assert qemu_pids(srv) == pids
    rc, out = guest(srv, a["id"], f"ping -c 2 -W 2 {b['ip']}")
    assert rc == 0, out
    srv.start()
    assert qemu_pids(srv) == pids  # adopted, not restarted
    states = {v["id"]: v["state"] for v in srv.cli_json("describe-instance")}
    assert states == {a["id"]: "running", b["id"]: "running"}
    after = max(ping_replies(srv, a["id"]))  # a reply seen once the server was back
    guest(srv, a["id"], "pkill ping")
    replies = ping_replies(srv, a["id"])
    lost = sorted(set(range(before, after + 1)) - set(replies))
    # every echo sent while the server was down and starting again was answered (no timing: the
    # replies between the two marks are counted, however long the restart took)
    assert after > before and not lost, f"replies {lost} lost across the restart: {replies}"

    # b powered off, SIGKILL of the server, restart, start b: it comes back with its network
    srv.cli("poweroff-instance", str(b["id"]))
    wait_state(srv, b["id"], ("poweroff",), timeout=120)
    srv.kill(signal.SIGKILL)
    srv.start()
    srv.cli("start-instance", str(b["id"]))
    wait_state(srv, b["id"], ("running",), timeout=120)
    wait_until(lambda: reaches_gateway(srv, b["id"]), timeout=120,
               message="b never reached its gateway after start")

    # b powered off again, its start fails (root disk moved away): boot-failure; the disk comes
    # back and an admin's recover retry boots it with its network
    srv.cli("poweroff-instance", str(b["id"]))
    wait_state(srv, b["id"], ("poweroff",), timeout=120)
    root = srv.data_dir / "instances" / str(b["id"]) / "root.qcow2"
    aside = root.with_name("root.qcow2.aside")
    root.rename(aside)
    try:
        srv.cli("start-instance", str(b["id"]), check=False)
        wait_state(srv, b["id"], ("boot-failure",), timeout=120)
    finally:
        aside.rename(root)
    srv.cli("recover-instance", str(b["id"]), "retry")
    wait_state(srv, b["id"], ("running",), timeout=120)
    wait_until(lambda: reaches_gateway(srv, b["id"]), timeout=120,
               message="b never reached its gateway after recover")

    # a suspended and resumed, then rebooted: each time it reaches its gateway again
    srv.cli("suspend-instance", str(a["id"]))
    wait_state(srv, a["id"], ("suspended",), timeout=120)
    srv.cli("resume-instance", str(a["id"]))
    wait_state(srv, a["id"], ("running",), timeout=120)
    wait_until(lambda: reaches_gateway(srv, a["id"]), timeout=120,
               message="a never reached its gateway after resume")
    srv.cli("reboot-instance", str(a["id"]))
    wait_state(srv, a["id"], ("running",), timeout=120)
    wait_until(lambda: reaches_gateway(srv, a["id"]), timeout=120,
               message="a never reached its gateway after reboot")
