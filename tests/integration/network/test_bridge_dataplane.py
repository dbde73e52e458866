"""The bridge driver's data plane on one node, without guests: endpoints are namespaces holding
the veth peer of a NIC.  The node's data plane lives in its own namespace with a veth uplink to
a namespace playing the host, as in all-in-one mode."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stratuslab.core.hypervisor import NicSpec
from stratuslab.core.network import Direction, IpProtocol, Lease, Network, Rule, default_rules
from stratuslab.drivers.network.bridge import (
    BridgeConfig,
    BridgeDriver,
    DataPlaneNamespace,
    firewall,
    links,
)
from stratuslab.services.network import Ipam, SegmentPool, create_network, network_from_table
from stratuslab.services.network.memory import InMemoryNetworkRepo

pytestmark = pytest.mark.integration

TABLE = {
    "subnet": "10.254.1.0/24",
    "ranges": ["10.254.1.10-10.254.1.20"],
    "gateway": "10.254.1.1",
    "ipv6_prefix": "fd53:7472:6174:1::/64",
    "ipv6_mode": "slaac",
}


@dataclass
class Node:
    host: str
    dp: DataPlaneNamespace
    driver: BridgeDriver
    network: Network
    repo: InMemoryNetworkRepo
    eps: dict[int, str]  # vm id -> endpoint namespace
    leases: dict[int, Lease]
    nics: dict[int, NicSpec]
    dhcp: dict[int, str] | None = None  # vm id -> address udhcpc configured


@pytest.fixture(scope="module")
def node(netkit, tmp_path_factory) -> Iterator[Node]:
    host = netkit.netns("host")
    dp = DataPlaneNamespace(f"{host}-dp", host_netns=host)
    netkit.made.append(dp.name)  # removed even if destroy() is never reached
    dp.create()
    state = Path(tmp_path_factory.mktemp("bridge-state"))
    driver = BridgeDriver(BridgeConfig(str(state), netns=dp.name, endpoint="veth"), uplink=dp)
    repo = InMemoryNetworkRepo()
    pool = SegmentPool.parse("vxlan", "100-200")
    network = create_network(repo, network_from_table("public", TABLE, pool=pool), pool)
    ipam = Ipam()
    n = Node(host, dp, driver, network, repo, {}, {}, {})
    try:
        for vm in (1, 2):
            lease = ipam.acquire(repo, "public", vm_id=vm, owner="alice")
            nic = driver.plug_nic(vm, 0, network, lease, default_rules())
            ep = netkit.netns(f"vm{vm}")
            netkit.attach(f"{nic.tap}p", from_ns=dp.name, ns=ep)
            n.eps[vm], n.leases[vm], n.nics[vm] = ep, lease, nic
        n.dhcp = {vm: netkit.dhcp(ep) for vm, ep in n.eps.items()}
        yield n
    finally:
        driver.close()
        dp.destroy()


def test_guests_get_their_reserved_ipv4_from_dnsmasq_by_mac(node, netkit):
    assert node.dhcp == {vm: lease.ip for vm, lease in node.leases.items()}
    assert node.leases[1].ip == "10.254.1.10"
    hosts = node.driver.dhcp_hosts(node.network)
    assert f"{node.leases[1].mac},10.254.1.10,[{node.leases[1].ipv6}],vm-1" in hosts


def test_guests_get_slaac_ipv6_from_router_advertisements(node, netkit):
    for vm, ep in node.eps.items():
        assert netkit.wait_ipv6(ep, node.leases[vm].ipv6), f"no SLAAC address on VM {vm}"


def test_guests_ping_each_other_over_ipv4_and_ipv6(node, netkit):
    test_guests_get_slaac_ipv6_from_router_advertisements(node, netkit)
    assert netkit.ping(node.eps[1], node.leases[2].ip)
    assert netkit.ping(node.eps[2], node.leases[1].ip)
    assert netkit.ping(node.eps[1], node.leases[2].ipv6)


def test_host_reaches_guests_through_the_uplink_veth(node, netkit):
    test_guests_get_slaac_ipv6_from_router_advertisements(node, netkit)
    assert netkit.ping(node.host, node.leases[1].ip)
    assert netkit.ping(node.host, node.leases[2].ipv6)


def test_firewall_rule_opens_a_port_live_and_removing_it_closes_it(node, netkit):
    netkit.listen(node.eps[2], 5000)
    target, nic = node.leases[2].ip, node.nics[2]
    assert not netkit.tcp_connects(node.eps[1], target, 5000), "default firewall let 5000 in"
    dropped = firewall.counters(nic.tap, netns=node.dp.name)["to"]
    assert dropped > 0
    web = Rule(Direction.INBOUND, IpProtocol.TCP, 5000, 5000, remote_cidr="10.254.1.0/24")
    node.driver.apply_rules(nic, (*default_rules(), web))
    assert netkit.tcp_connects(node.eps[1], target, 5000)
    node.driver.apply_rules(nic, default_rules())
    assert netkit.listening(node.eps[2], 5000)  # closed by the rule, not by a dead listener
    assert not netkit.tcp_connects(node.eps[1], target, 5000)
    assert netkit.ping(node.eps[1], target), "ICMP must stay open"


def test_forged_source_ip_is_dropped(node, netkit):
    ep, target = node.eps[1], node.leases[2].ip
    netkit.run(ep, "ip", "addr", "add", "10.254.1.99/24", "dev", "eth0")
    try:
        before = firewall.counters(node.nics[1].tap, netns=node.dp.name)["from"]
        assert not netkit.ping(ep, target, tries=2, source="10.254.1.99")
        assert firewall.counters(node.nics[1].tap, netns=node.dp.name)["from"] > before
        assert netkit.ping(ep, target), "the real address must still work"
    finally:
        netkit.run(ep, "ip", "addr", "del", "10.254.1.99/24", "dev", "eth0")


def test_forged_source_mac_is_dropped(node, netkit):
    ep, target, mac = node.eps[1], node.leases[2].ip, node.leases[1].mac
    netkit.run(ep, "ip", "link", "set", "eth0", "address", "02:99:00:00:00:01")
    try:
        netkit.run(ep, "ip", "neigh", "flush", "all")
        assert not netkit.ping(ep, target, tries=2)
    finally:
        netkit.run(ep, "ip", "link", "set", "eth0", "address", mac)
    assert netkit.ping(ep, target)


def test_unplug_removes_the_nic_its_rules_and_its_dhcp_entry(node, netkit):
    ipam = Ipam()
    lease = ipam.acquire(node.repo, "public", vm_id=3, owner="alice")
    nic = node.driver.plug_nic(3, 0, node.network, lease, default_rules())
    assert nic.tap in node.driver.segment_status(node.network).nics
    node.driver.unplug_nic(3, 0, node.network, lease)
    node.driver.unplug_nic(3, 0, node.network, lease)  # idempotent
    assert not links.exists(nic.tap, netns=node.dp.name)
    assert not any(h.startswith(lease.mac) for h in node.driver.dhcp_hosts(node.network))
    ruleset = netkit.run(node.dp.name, "nft", "list", "table", "bridge", "stratuslab").stdout
    assert f"from_{nic.tap}" not in ruleset


def test_private_network_accepts_no_routed_connection_but_its_guests_reach_out(node, netkit):
    private = {"subnet": "10.254.3.0/24", "ranges": ["10.254.3.10-10.254.3.20"],
               "gateway": "10.254.3.1", "address_class": "private"}  # fmt: skip
    pool = SegmentPool.parse("vxlan", "100-200")
    network = create_network(node.repo, network_from_table("private", private, pool=pool), pool)
    lease = Ipam().acquire(node.repo, "private", vm_id=4, owner="alice")
    nic = node.driver.plug_nic(4, 0, network, lease, default_rules())
    ep = netkit.netns("vm4")
    netkit.attach(f"{nic.tap}p", from_ns=node.dp.name, ns=ep)
    assert netkit.dhcp(ep) == lease.ip
    assert netkit.ping(ep, node.leases[1].ip), "a private guest may open connections"
    assert not netkit.ping(node.eps[1], lease.ip, tries=2), "nothing may reach a private guest"
    assert not netkit.ping(node.host, lease.ip, tries=1)
    node.driver.unplug_nic(4, 0, network, lease)
    node.driver.remove_segment(network)


def test_all_in_one_data_plane_is_created_and_removed_completely(netkit, tmp_path):
    host = netkit.netns("aio")
    name = f"{host}-dp"
    netkit.made.append(name)
    driver = BridgeDriver.all_in_one(str(tmp_path), name, host_netns=host)
    pool = SegmentPool.parse("vxlan", "100-200")
    network = create_network(
        InMemoryNetworkRepo(), network_from_table("public", TABLE, pool=pool), pool
    )
    driver.ensure_segment(network)
    assert links.exists(driver.uplink.host_if, netns=host)
    routes = netkit.run(host, "ip", "route").stdout
    assert "10.254.1.0/24 via 169.254.77.2" in routes
    driver.shutdown()
    assert name not in netkit.run(host, "ip", "netns", "list").stdout
    assert not links.exists(driver.uplink.host_if, netns=host)
    assert "10.254.1.0/24" not in netkit.run(host, "ip", "route").stdout
