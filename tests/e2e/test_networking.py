"""Issue 8 end to end through a real stratus-server and the real CLI.

Simulated hypervisor + simulated network driver: the JSON contracts, address requests, leases
back in the pool after kill, after a failed deploy and after a kill -9 mid-deploy, reservations,
security groups and the refusals.  Real guests (QEMU, TCG; two of them) on the bridge driver: the
server's data-plane namespace hangs off a "host" namespace this module creates, so no packet
leaves the namespaces; the guests get their addresses and ping each other over IPv4 and IPv6, and
a security group closes and opens a TCP port live (busybox nc in the guests), and a port the
guest's image declares is open in the default firewall while an undeclared one stays closed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.helpers.servers import Server, free_port, wait_api_state
from tests.helpers.waits import finished_job, wait_until

pytestmark = [pytest.mark.e2e]

CACHE = os.environ.get("STRATUSLAB_TEST_CACHE", "/var/tmp/stratuslab-test-cache")


def usage(srv: Server) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in srv.cli_json("network", "list")}


def refused(srv: Server, *args: str, user: str = "admin", password: str = "adminpw") -> str:
    res = srv.cli(*args, user=user, password=password, check=False)
    assert res.returncode != 0, f"{args} was accepted: {res.stdout}"
    return res.stderr + res.stdout


def wait_state(srv: Server, vm_id: int, states: tuple[str, ...], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    vm: dict = {}
    while time.monotonic() < deadline:
        [vm] = srv.cli_json("describe-instance", str(vm_id))
        if vm["state"] in states:
            return vm
        time.sleep(0.3)
    raise AssertionError(f"VM {vm_id} stayed {vm.get('state')}, expected {states}")


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("netsim")
    srv = Server(base / "data", free_port(), args=["--hypervisor", "simulated"])
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def image(sim: Server, tmp_path_factory: pytest.TempPathFactory) -> str:
    f = tmp_path_factory.mktemp("img") / "disk.raw"
    f.write_bytes(b"\0" * 4096)
    return sim.cli("image", "register", "base", str(f), "--public").stdout.strip()


def test_network_list_json_and_address_requests(sim: Server, image: str) -> None:
    nets = usage(sim)
    assert {"public", "local", "private"} <= set(nets)
    assert all({"name", "size", "leases_used"} <= set(n) for n in nets.values())
    assert nets["public"]["size"] == 241
    [fixed] = sim.cli_json("run-instance", image, "--address", "10.254.1.50")
    [local] = sim.cli_json("run-instance", image, "--local-ip")
    [priv] = sim.cli_json("run-instance", image, "--private-ip", "10.254.3.33")
    [plain] = sim.cli_json("run-instance", image)
    described = {v["id"]: v for v in sim.cli_json("describe-instance")}
    assert described[fixed["id"]]["ip"] == "10.254.1.50"
    assert described[fixed["id"]]["ipv6"].startswith("fd53:7472:6174:1:")
    assert described[local["id"]]["ip"].startswith("10.254.2.")
    assert described[priv["id"]]["ip"] == "10.254.3.33"
    assert described[plain["id"]]["ip"] == "10.254.1.10"
    events = sim.cli("describe-instance", str(fixed["id"]), "-v").stdout
    assert "acquired lease (NETWORK=public, IP=10.254.1.50" in events
    nets = usage(sim)
    assert (nets["public"]["leases_used"], nets["local"]["leases_used"]) == (2, 1)
    sim.cli("kill-instance", *(str(v["id"]) for v in (fixed, local, priv, plain)))
    for vm in (fixed, local, priv, plain):
        wait_state(sim, vm["id"], ("done",))
    assert all(n["leases_used"] == 0 for n in usage(sim).values())
    assert "released lease" in sim.cli("describe-instance", str(fixed["id"]), "-v").stdout


def test_failed_deploy_returns_its_lease_to_the_pool(sim: Server, image: str) -> None:
    auth = ("admin", "adminpw")
    body = {"image": int(image), "extra": {"simulate_failure": "start"}}
    made = httpx.post(sim.endpoint + "/api/v1/vms", json=body, auth=auth).json()
    vm_id = made["vms"][0]["id"]
    assert made["vms"][0]["ip"] == "10.254.1.10"
    vm = wait_state(sim, vm_id, ("failed",))
    assert "simulated start failure" in vm["error"]
    assert usage(sim)["public"]["leases_used"] == 0
    log = sim.cli("describe-instance", str(vm_id), "-v").stdout
    assert log.count("released lease") == 1


def test_refusals_are_clear(sim: Server, image: str) -> None:
    out = refused(sim, "reservation", "create", "public", "-n", "1000")
    assert "network public has 241 addresses in all; cannot reserve 1000" in out
    out = refused(sim, "run-instance", image, "--address", "192.0.2.9")
    assert "address 192.0.2.9 is outside every range" in out
    out = refused(sim, "run-instance", image, "--network", "local", "--address", "10.254.1.20")
    assert "outside every range of network local" in out
    sim.cli("network", "create", "lab", "--subnet", "10.40.0.0/24", "--range", "10.40.0.10-10.40.0.50")
    out = refused(sim, "network", "add-range", "lab", "10.40.0.40-10.40.0.60")
    assert "range 10.40.0.10-10.40.0.50 overlaps range 10.40.0.40-10.40.0.60" in out
    out = refused(sim, "network", "create", "v1", "--subnet", "10.41.0.0/24",
                  "--segment-kind", "vlan", "--segment-id", "4095")
    assert "vlan segment id 4095 is out of range" in out and "1 to 4094" in out
    out = refused(sim, "network", "create", "v2", "--subnet", "10.42.0.0/24",
                  "--segment-id", "16777216")
    assert "vxlan segment id 16777216 is out of range" in out
    assert usage(sim)["public"]["leases_used"] == 0
    sim.cli("network", "delete", "lab")


def test_reservations_and_secgroups_belong_to_their_owner(sim: Server, image: str) -> None:
    for name in ("alice", "bob"):
        sim.cli("user", "create", name, "--password", f"{name}pw")
    alice = {"user": "alice", "password": "alicepw"}
    bob = {"user": "bob", "password": "bobpw"}
    made = sim.cli_json("reservation", "create", "local", "-n", "2", **alice)
    assert len(made["addresses"]) == 2
    [res] = sim.cli_json("reservation", "list", **alice)
    assert sim.cli_json("reservation", "list", **bob) == []
    assert "does not exist" in refused(sim, "reservation", "delete", str(res["id"]), **bob)
    other = httpx.post(f"{sim.endpoint}/api/v1/vms", auth=("bob", "bobpw"), json={
        "image": int(image), "nics": [{"network": "local", "reservation": str(res["id"])}]})
    assert other.status_code == 404, other.text  # another's reservation: 404 on every route
    assert usage(sim)["local"]["leases_used"] == 2
    sim.cli("reservation", "delete", str(res["id"]), **alice)
    assert usage(sim)["local"]["leases_used"] == 0

    sim.cli("secgroup", "create", "web", "--rule", "inbound tcp 80", **alice)
    sim.cli("secgroup", "add-rule", "web", "inbound", "tcp", "443", **alice)
    shown = sim.cli_json("secgroup", "show", "web", **alice)
    assert shown["rules"] == ["inbound tcp 80", "inbound tcp 443"]
    assert sim.cli_json("secgroup", "list", **bob) == []
    assert "does not exist" in refused(sim, "secgroup", "show", "web", **bob)
    [vm] = sim.cli_json("run-instance", image, "--secgroup", "web", **alice)
    assert "does not exist" in refused(sim, "secgroup", "attach", str(vm["id"]), "web", **bob)
    sim.cli("secgroup", "del-rule", "web", "inbound", "tcp", "80", **alice)
    assert "attached to VM" in refused(sim, "secgroup", "delete", "web", **alice)
    sim.cli("secgroup", "create", "db", "--rule", "inbound tcp 5432 10.254.1.0/24", **alice)
    sim.cli("secgroup", "attach", str(vm["id"]), "db", **alice)  # replaces web on its NIC
    sim.cli("secgroup", "delete", "web", **alice)
    assert "attached to VM" in refused(sim, "secgroup", "delete", "db", **alice)
    sim.cli("secgroup", "detach", str(vm["id"]), **alice)  # back on the default rules
    sim.cli("secgroup", "delete", "db", **alice)
    sim.cli("secgroup", "create", "db", "--rule", "inbound tcp 5432", **alice)
    sim.cli("secgroup", "attach", str(vm["id"]), "db", **alice)
    sim.cli("kill-instance", str(vm["id"]), **alice)
    wait_state(sim, vm["id"], ("done",))
    sim.cli("secgroup", "delete", "db", **alice)


def test_image_inbound_ports_open_the_default_firewall_and_show_in_the_event_log(
    sim: Server, tmp_path: Path
) -> None:
    f = tmp_path / "web.raw"
    f.write_bytes(b"\0" * 4096)
    web = sim.cli("image", "register", "web", str(f), "--public", "--inbound-port", "8080",
                  "--inbound-port", "443").stdout.strip()
    [shown] = [i for i in sim.cli_json("image", "list") if str(i["id"]) == web]
    assert shown["inbound_ports"] == [443, 8080]
    assert "not in the range 1<=x<=65535" in refused(
        sim, "image", "register", "bad", str(f), "--inbound-port", "0")
    body = {"name": "bad", "source": str(f), "inbound_ports": [70000]}
    answer = httpx.post(sim.endpoint + "/api/v1/images", json=body, auth=("admin", "adminpw"))
    assert answer.status_code == 400 and "inbound port 70000 is not a TCP port" in answer.text
    [vm] = sim.cli_json("run-instance", web)
    wait_state(sim, vm["id"], ("running",))
    log = sim.cli("describe-instance", str(vm["id"]), "-v").stdout
    assert f"image {web} opens inbound TCP port(s) 443, 8080" in log
    sim.cli("kill-instance", str(vm["id"]))
    wait_state(sim, vm["id"], ("done",))


def test_no_leaked_or_duplicated_address_after_kill_9_mid_deploy(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    srv = Server(tmp_path / "data", free_port(), args=["--hypervisor", "simulated"],
                 env={"STRATUSLAB_HYPERVISOR_SIMULATED_BOOT_DELAY": "3"})
    srv.start()
    try:
        img = tmp_path / "d.raw"
        img.write_bytes(b"x" * 1024)
        image = srv.cli("image", "register", "d", str(img)).stdout.strip()
        vms = srv.cli_json("run-instance", image, "-n", "3", "--no-wait")
        for v in vms:  # the server dies while the jobs are inside their 3 s boot
            wait_api_state(srv, v["id"], "boot", timeout=30)
        srv.kill()
        srv.start()
        states = [wait_state(srv, v["id"], ("running", "failed"), timeout=60) for v in vms]
        running = [v for v in states if v["state"] == "running"]
        ips = [v["ip"] for v in running]
        assert len(ips) == len(set(ips))
        assert usage(srv)["public"]["leases_used"] == len(running)
        for vm in vms:
            log = srv.cli("describe-instance", str(vm["id"]), "-v").stdout
            assert log.count("acquired lease") == 1, log
        srv.cli("kill-instance", *(str(v["id"]) for v in running))
        for vm in running:
            wait_state(srv, vm["id"], ("done",))
        assert usage(srv)["public"]["leases_used"] == 0
    finally:
        srv.stop()


# --- real guests ------------------------------------------------------------------------------

READY = r"^stratuslab-ready hostname=\S+ ipv4=(\S*) ipv6=(\S*)"


def netns_list() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if os.geteuid() != 0:
        pytest.skip("real-guest networking needs root (network namespaces)")
    from stratuslab.drivers.network.bridge.namespace import create_netns, delete_netns

    base = tmp_path_factory.mktemp("netreal")
    host, plane = (f"slt{os.getpid() % 100000}-e2e{role}" for role in ("host", "dp"))
    create_netns(host)
    cfg = base / "cfg.toml"
    cfg.write_text(f'[images]\nbuild_cache = "{CACHE}/images"\n[qemu]\naccel = "tcg"\n'
                   f'[hypervisor]\nshutdown_timeout = 5\n'
                   f'[network]\nhost_netns = "{host}"\nnetns = "{plane}"\n')
    srv = Server(base / "data", free_port(), args=["--config", str(cfg)])
    try:
        srv.start()
        assert plane in netns_list()
        yield srv
        for vm in srv.cli_json("describe-instance", check=False):
            srv.cli("kill-instance", str(vm["id"]), check=False)
        srv.stop()
        assert plane in netns_list()  # a server stop leaves the data plane running
        srv.reap()
        assert plane not in netns_list()  # stratus-server remove-data-plane removed it
    finally:
        srv.kill()
        for ns in (plane, host):  # only the namespaces of this module
            delete_netns(ns)


def wait_console(srv: Server, vm_id: int, pattern: str, timeout: float = 180) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = srv.cli("console", str(vm_id), check=False).stdout
        found = re.search(pattern, text, re.M)
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"console of VM {vm_id} never matched {pattern!r}:\n{text[-2000:]}")


def guest(srv: Server, vm_id: int, command: str, timeout: float = 60) -> tuple[int, str]:
    from stratuslab.drivers.hypervisor.guestagent import run_in_guest

    return run_in_guest(str(srv.data_dir / "instances" / str(vm_id) / "agent.sock"), command,
                        timeout=timeout)


def answers_locally(srv: Server, vm_id: int, port: int) -> bool:
    """The guest's own TCP `port` accepts a connection over its loopback (no firewall there)."""
    return guest(srv, vm_id, f"nc -w 3 127.0.0.1 {port} </dev/null")[0] == 0


def listen(srv: Server, vm_id: int, port: int) -> None:
    """A persistent busybox nc listener in the guest, up (it answered) before this returns: a
    "port closed" check from another guest is only worth something then."""
    guest(srv, vm_id, f"setsid nc -ll -p {port} -e /bin/true </dev/null >/dev/null 2>&1 &")
    wait_until(lambda: answers_locally(srv, vm_id, port), timeout=60, interval=0.5,
               message=f"nothing listens on TCP {port} in VM {vm_id}")


def with_inbound_port(srv: Server, tiny: str, port: int) -> str:
    """The built tiny image registered again (admin: server paths) declaring an inbound port."""
    [sha1] = [i["sha1"] for i in srv.cli_json("image", "list") if str(i["id"]) == tiny]
    built = next(b for f in Path(CACHE, "images").glob("tiny-*/image.json")
                 if (b := json.loads(f.read_text())).get("sha1") == sha1)
    return srv.cli("image", "register", "tiny-web", built["path"], "--kernel", built["kernel"],
                   "--initrd", built["initrd"], "--cmdline", built["cmdline"], "--public",
                   "--inbound-port", str(port)).stdout.strip()


def test_two_real_guests_ping_over_ipv4_and_ipv6_and_a_secgroup_closes_a_port_live(
    real: Server,
) -> None:
    srv = real
    tiny = srv.cli("image", "build", "tiny").stdout.strip()
    web = with_inbound_port(srv, tiny, 9090)
    srv.cli("secgroup", "create", "web", "--rule", "inbound icmp", "--rule", "inbound icmpv6",
            "--rule", "inbound tcp 22")
    [one] = srv.cli_json("run-instance", tiny, "--vm-name", "one", "--ram", "128",
                         "--secgroup", "web")
    [two] = srv.cli_json("run-instance", web, "--vm-name", "two", "--ram", "128",
                         "--address", "10.254.1.77")
    assert two["ip"] == "10.254.1.77"
    vms = {v["id"]: v for v in srv.cli_json("describe-instance")}
    for vm in (one, two):
        ready = wait_console(srv, vm["id"], READY)
        want = vms[vm["id"]]
        assert ready.group(1) == want["ip"]  # the addresses the guest actually configured
        assert want["ipv6"] in ready.group(2).split(",")
    assert usage(srv)["public"]["leases_used"] == 2
    a, b = vms[one["id"]], vms[two["id"]]
    for src, dst in ((a, b), (b, a)):
        rc, out = guest(srv, src["id"], f"ping -c 2 -W 2 {dst['ip']}")
        assert rc == 0, out
        rc, out = guest(srv, src["id"], f"ping -6 -c 2 -W 2 {dst['ipv6']}")
        assert rc == 0, out

    # 'one' listens on 8080; its group lets in only ICMP and SSH, so 'two' cannot connect
    listen(srv, a["id"], 8080)
    connect = f"nc -w 3 {a['ip']} 8080 </dev/null"
    rc, _ = guest(srv, b["id"], connect)
    assert rc != 0
    srv.cli("secgroup", "add-rule", "web", "inbound", "tcp", "8080")
    rc, out = guest(srv, b["id"], connect)
    assert rc == 0, out
    srv.cli("secgroup", "del-rule", "web", "inbound", "tcp", "8080")
    assert answers_locally(srv, a["id"], 8080)  # closed by the rule, not by a dead listener
    rc, _ = guest(srv, b["id"], connect)
    assert rc != 0

    # 'two' has no group; its image declares 9090: the default firewall opens 9090, not 9091
    for port in (9090, 9091):
        listen(srv, b["id"], port)
    rc, out = guest(srv, a["id"], f"nc -w 3 {b['ip']} 9090 </dev/null")
    assert rc == 0, out
    rc, _ = guest(srv, a["id"], f"nc -w 3 {b['ip']} 9091 </dev/null")
    assert rc != 0
    assert f"image {web} opens inbound TCP port(s) 9090" in srv.cli(
        "describe-instance", "-v", str(b["id"])).stdout

    # a NIC hot-plugged into 'one' (REST): the guest sees it; detached, it and its lease go
    nics, admin = f"{srv.endpoint}/api/v1/vms/{a['id']}/nics", ("admin", "adminpw")
    def get(path: str) -> dict[str, object]:
        return dict(httpx.get(srv.endpoint + path, auth=admin, timeout=60).json())

    made = httpx.post(nics, json={"network": "private"}, auth=admin, timeout=60)
    assert made.status_code == 202, made.text
    attached = finished_job(get, made.json()["job"])
    assert attached["state"] == "done", attached
    mac = attached["result"]["mac"]  # type: ignore[index]
    assert usage(srv)["private"]["leases_used"] == 1
    deadline = time.monotonic() + 30
    while mac not in guest(srv, a["id"], "cat /sys/class/net/*/address")[1]:
        assert time.monotonic() < deadline, f"{mac} never appeared in the guest"
        time.sleep(0.5)
    gone = httpx.delete(f"{nics}/{mac}", auth=admin, timeout=60)
    assert gone.status_code == 202, gone.text
    assert finished_job(get, gone.json()["job"])["state"] == "done"
    assert mac not in guest(srv, a["id"], "cat /sys/class/net/*/address")[1]
    assert usage(srv)["private"]["leases_used"] == 0

    srv.cli("kill-instance", str(a["id"]), str(b["id"]))
    for vm in (a, b):
        wait_state(srv, vm["id"], ("done",))
    assert usage(srv)["public"]["leases_used"] == 0
