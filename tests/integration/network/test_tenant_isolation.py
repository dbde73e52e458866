"""Tenant networks are isolated by construction: two users' segments (even with the same subnet)
reach nothing but themselves, with br_netfilter's bridge-nf-call-iptables at 0 and at 1 (set
inside the test's data-plane namespace: the sysctl is per network namespace on this kernel), and
a guest cannot send from an address it was not leased, nor answer DHCP or advertise itself as
a router.  Endpoints are namespaces holding a NIC's veth peer; the "host" is a namespace of the
test."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stratuslab.core.entities import Principal
from stratuslab.core.network import Lease, Network, default_rules
from stratuslab.drivers import _process
from stratuslab.drivers.network.bridge import (
    BridgeConfig,
    BridgeDriver,
    DataPlaneNamespace,
    firewall,
)
from stratuslab.drivers.network.bridge.namespace import tenant_namespaces
from stratuslab.services.network import Ipam, SegmentPool, create_network, network_from_table
from stratuslab.services.network.memory import InMemoryNetworkRepo
from stratuslab.services.network.tenancy import tenant_network

pytestmark = pytest.mark.integration

PUBLIC = {"subnet": "10.254.1.0/24", "ranges": ["10.254.1.10-10.254.1.20"],
          "gateway": "10.254.1.1"}  # fmt: skip
PRIVATE = {"subnet": "10.254.3.0/24", "ranges": ["10.254.3.10-10.254.3.20"],
           "gateway": "10.254.3.1"}  # fmt: skip
SYSCTLS = ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables",
           "net.bridge.bridge-nf-call-arptables")  # fmt: skip


@dataclass
class Plane:
    host: str
    dp: DataPlaneNamespace
    driver: BridgeDriver
    networks: dict[str, Network]
    eps: dict[str, str]  # endpoint -> namespace
    leases: dict[str, Lease]


def who(user: str) -> Principal:
    return Principal(user, 1, ("users",), frozenset({"user"}))


@pytest.fixture(scope="module")
def plane(netkit, tmp_path_factory) -> Iterator[Plane]:
    host = netkit.netns("host")
    dp = DataPlaneNamespace(f"{host}-dp", host_netns=host)
    netkit.made.append(dp.name)
    dp.create()
    state = Path(tmp_path_factory.mktemp("tenant-state"))
    driver = BridgeDriver(BridgeConfig(str(state), netns=dp.name, endpoint="veth"), uplink=dp)
    repo, pool, ipam = InMemoryNetworkRepo(), SegmentPool.parse("vxlan", "100-200"), Ipam()
    nets = {name: create_network(repo, network_from_table(name, table, pool=pool), pool)
            for name, table in (("public", PUBLIC), ("private", PRIVATE))}
    for name, user, subnet in (("alice-net", "alice", "192.168.10.0/24"),
                               ("bob-net", "bob", "192.168.20.0/24"),
                               ("carol-net", "carol", "192.168.10.0/24")):  # carol = alice's
        made = tenant_network(who(user), name, {"subnet": subnet}, pool=pool,
                              others=repo.list_networks(), quota=5)
        nets[name] = create_network(repo, made, pool)
    p = Plane(host, dp, driver, nets, {}, {})
    try:
        vm = 0
        for ep, net in (("a1", "alice-net"), ("a2", "alice-net"), ("b1", "bob-net"),
                        ("c1", "carol-net"), ("p1", "public"), ("s1", "private"),
                        ("s2", "private")):
            vm += 1
            lease = ipam.acquire(repo, net, vm_id=vm, owner="x")
            nic = driver.plug_nic(vm, 0, nets[net], lease, default_rules())
            ns = netkit.netns(ep)
            netkit.attach(f"{nic.tap}p", from_ns=dp.name, ns=ns)
            p.eps[ep], p.leases[ep] = ns, lease
            assert netkit.dhcp(ns) == lease.ip
        yield p
    finally:
        driver.shutdown()
        assert not tenant_namespaces(dp.name)  # the tenant gateways went with the data plane


@pytest.mark.parametrize("br_netfilter", [0, 1])
def test_tenant_segments_reach_only_themselves_whatever_br_netfilter_says(
    plane: Plane, netkit, br_netfilter: int
) -> None:
    netkit.run(plane.dp.name, "sysctl", "-q", "-w",
               *(f"{s}={br_netfilter}" for s in SYSCTLS))  # fmt: skip
    ip = {ep: lease.ip for ep, lease in plane.leases.items()}
    assert ip["a1"] == ip["c1"] == "192.168.10.2"  # same subnet, same address, two segments
    eps = plane.eps
    # within a segment: guest to guest and guest to its gateway
    assert netkit.ping(eps["a1"], ip["a2"]) and netkit.ping(eps["a2"], ip["a1"])
    assert netkit.ping(eps["a1"], "192.168.10.1") and netkit.ping(eps["b1"], "192.168.20.1")
    assert netkit.ping(eps["p1"], ip["p1"].rsplit(".", 1)[0] + ".1")
    # across segments: never, in either direction, nor from the host
    for src, dst in (("a1", "b1"), ("b1", "a1"), ("a1", "p1"), ("p1", "a1"), ("p1", "b1"),
                     ("b1", "p1"), ("c1", "a2")):
        assert not netkit.ping(eps[src], ip[dst], tries=2), f"{src} reached {dst}"
    assert not netkit.ping(plane.host, ip["a1"], tries=2)
    assert netkit.ping(plane.host, ip["p1"])  # the public class stays routed from the host
    # the two 192.168.10.2 guests each reach their own neighbours only
    assert netkit.ping(eps["c1"], "192.168.10.1")
    assert not netkit.ping(eps["c1"], ip["a2"], tries=2)
    # the shared host-local `private` class: its guests reach each other (bridged, not routed)
    # and the host does not reach them, at 0 as at 1
    assert netkit.ping(eps["s1"], ip["s2"]) and netkit.ping(eps["s2"], ip["s1"])
    assert not netkit.ping(plane.host, ip["s1"], tries=2)


def test_a_guest_cannot_send_from_an_address_it_was_not_leased(plane: Plane, netkit) -> None:
    a1, a2 = plane.eps["a1"], plane.eps["a2"]
    netkit.run(a1, "ip", "addr", "add", "192.168.10.99/24", "dev", "eth0")
    try:
        before = firewall.counters("sl1n0", netns=plane.dp.name)["from"]
        assert not netkit.ping(a1, plane.leases["a2"].ip, source="192.168.10.99", tries=2)
        assert firewall.counters("sl1n0", netns=plane.dp.name)["from"] > before
        assert netkit.ping(a1, plane.leases["a2"].ip)  # its own address still works
    finally:
        netkit.run(a1, "ip", "addr", "del", "192.168.10.99/24", "dev", "eth0")
    assert netkit.ping(a2, plane.leases["a1"].ip)


#: a DHCP server's answer as a rogue guest would send it: UDP from port 67 to the broadcast
OFFER = """import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
s.bind(("0.0.0.0", 67))
s.sendto(bytes(300), ("255.255.255.255", 68))
"""


def rule_drops(tap: str, rule: str, netns: str) -> int:
    """Packets dropped so far by the NIC's outbound rule that starts with `rule`."""
    out = _process.run(["ip", "netns", "exec", netns, "nft", "list", "chain", "bridge",
                        firewall.TABLE, f"from_{tap}"], timeout=10).stdout  # fmt: skip
    found = re.search(re.escape(rule) + r" counter packets (\d+) ", out)
    assert found, out
    return int(found.group(1))


def test_a_guest_cannot_answer_dhcp_nor_advertise_itself_as_a_router(
    plane: Plane, netkit, tmp_path: Path
) -> None:
    """a2 advertises a prefix of its own (dnsmasq, fd99::/64) and sends DHCP answers (UDP from
    port 67 to the broadcast address): a2's tap drops both (its counters rise), a1 never gets an
    address of the rogue prefix and still gets its lease from the network's DHCP.  (A guest
    does not even hear another's DHCP discover: its inbound rules let in DHCP replies only.)"""
    a1, a2 = plane.eps["a1"], plane.eps["a2"]
    tap = "sl2n0"  # a2 is VM 2
    dhcp, ra = "udp sport { 67, 547 }", "icmpv6 type { nd-router-advert, nd-redirect }"
    before = rule_drops(tap, dhcp, plane.dp.name), rule_drops(tap, ra, plane.dp.name)
    netkit.run(a2, "ip", "addr", "add", "fd99::5/64", "dev", "eth0", "nodad")
    rogue = _process.spawn(["ip", "netns", "exec", a2, "dnsmasq", "--keep-in-foreground",
                            "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=0",
                            "--bind-interfaces", "--interface=eth0",
                            "--enable-ra", "--dhcp-range=fd99::,ra-only,64",
                            f"--pid-file={tmp_path / 'pid'}",
                            f"--dhcp-leasefile={tmp_path / 'leases'}"],
                           stderr_path=str(tmp_path / "stderr"))  # fmt: skip
    def dropped(rule: str, since: int, what: str) -> None:
        deadline = time.monotonic() + 30
        while rule_drops(tap, rule, plane.dp.name) == since:
            assert rogue.poll() is None, (tmp_path / "stderr").read_text()
            assert time.monotonic() < deadline, f"the rogue sent no {what}"
            time.sleep(0.2)

    try:
        dropped(ra, before[1], "router advertisement")  # dnsmasq advertises as it starts
        netkit.run(a2, sys.executable, "-c", OFFER)
        dropped(dhcp, before[0], "DHCP answer")
        assert netkit.dhcp(a1) == plane.leases["a1"].ip
        v6 = netkit.run(a1, "ip", "-6", "addr", "show", "dev", "eth0").stdout
        assert "fd99:" not in v6, v6
    finally:
        rogue.kill()
        rogue.wait(10)
        netkit.run(a2, "ip", "addr", "del", "fd99::5/64", "dev", "eth0", check=False)
