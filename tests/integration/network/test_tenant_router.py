"""A tenant network's router: without it the segment reaches nothing; with it, guests reach the
public segment through NAT and a floating address of the public network reaches a guest's
service from the host; over IPv6 too (both networks with a prefix: the router's own address on
the public prefix, the segment's prefix masqueraded to it, the default route from the tenant
gateway's router advertisements); removed, both ways close again.  Endpoints are namespaces holding a NIC's
veth peer; the "host" is a namespace of the test."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from stratuslab.core.entities import Principal
from stratuslab.core.network import FloatingIp, Router, default_rules
from stratuslab.drivers.network.bridge import BridgeConfig, BridgeDriver, DataPlaneNamespace
from stratuslab.services.network import Ipam, SegmentPool, create_network, network_from_table
from stratuslab.services.network.memory import InMemoryNetworkRepo
from stratuslab.services.network.tenancy import tenant_network

pytestmark = pytest.mark.integration

PUBLIC = {"subnet": "10.254.1.0/24", "ranges": ["10.254.1.10-10.254.1.20"],
          "gateway": "10.254.1.1", "ipv6_prefix": "fd53:7472:6174:1::/64",
          "ipv6_mode": "slaac"}  # fmt: skip
PUBLIC_GW6 = "fd53:7472:6174:1::1"


def test_router_nat_out_and_a_floating_address_in_then_closed_again(
    netkit, tmp_path: Path
) -> None:
    host = netkit.netns("host")
    dp = DataPlaneNamespace(f"{host}-dp", host_netns=host)
    netkit.made.append(dp.name)
    dp.create()
    driver = BridgeDriver(BridgeConfig(str(tmp_path), netns=dp.name, endpoint="veth"), uplink=dp)
    try:
        repo, pool, ipam = InMemoryNetworkRepo(), SegmentPool.parse("vxlan", "100-200"), Ipam()
        public = create_network(repo, network_from_table("public", PUBLIC, pool=pool), pool)
        alice = Principal("alice", 1, ("users",), frozenset({"user"}))
        mine = create_network(repo, tenant_network(alice, "alice-net", {
            "subnet": "192.168.10.0/24", "ipv6_prefix": "fd00:10::/64", "ipv6_mode": "slaac"},
            pool=pool, others=[public], quota=3), pool)  # fmt: skip
        eps, v6 = {}, {}
        for vm, (ep, net) in enumerate((("a1", mine), ("p1", public)), start=1):
            lease = ipam.acquire(repo, net.name, vm_id=vm, owner="alice")
            nic = driver.plug_nic(vm, 0, net, lease, default_rules(inbound_ports=[8080]))
            eps[ep] = netkit.netns(ep)
            netkit.attach(f"{nic.tap}p", from_ns=dp.name, ns=eps[ep])
            assert netkit.dhcp(eps[ep]) == lease.ip
            assert lease.ipv6 and netkit.wait_ipv6(eps[ep], lease.ipv6)
            v6[ep] = lease.ipv6
        guest_ip, public_ip = netkit.ipv4(eps["a1"]), netkit.ipv4(eps["p1"])
        netkit.listen(eps["a1"], 8080)
        assert not netkit.ping(eps["a1"], "10.254.1.1", tries=2)  # no router: no way out
        assert netkit.ping(eps["a1"], "fd00:10::1")  # its gateway answers over IPv6
        assert not netkit.ping(eps["a1"], PUBLIC_GW6, tries=2)

        routed = dataclasses.replace(mine, router=Router(
            public, "10.254.1.15", floating=(FloatingIp("10.254.1.16", guest_ip),)))
        driver.ensure_segment(routed)
        assert netkit.ping(eps["a1"], "10.254.1.1")  # out through NAT
        assert netkit.ping(eps["a1"], public_ip)
        assert netkit.tcp_connects(host, "10.254.1.16", 8080)  # in through the floating address
        assert netkit.tcp_connects(eps["p1"], "10.254.1.16", 8080)
        assert not netkit.tcp_connects(host, "10.254.1.15", 8080)  # the router's own: no DNAT
        assert not netkit.ping(host, guest_ip, tries=2)  # the private address stays private
        # out over v6 (the first packets wait for neighbour discovery on two links)
        assert netkit.ping(eps["a1"], PUBLIC_GW6, tries=10) and netkit.ping(eps["a1"], v6["p1"])
        assert not netkit.ping(eps["p1"], v6["a1"], tries=2)  # nothing starts inward over v6

        driver.ensure_segment(mine)  # router removed
        assert not netkit.ping(eps["a1"], "10.254.1.1", tries=2)
        assert not netkit.ping(eps["a1"], PUBLIC_GW6, tries=2)
        assert netkit.listening(eps["a1"], 8080)  # unreachable, yet still listening
        assert not netkit.tcp_connects(host, "10.254.1.16", 8080)
    finally:
        driver.shutdown()
