"""dnsmasq command line and host entries for each IPv6 mode (no process started here)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from stratuslab.core.errors import DriverError
from stratuslab.core.network import AddressRange, Ipv6Mode, Lease, Network
from stratuslab.drivers.network.bridge.dnsmasq import argv, gateway_v6, host_line

NET = Network(
    name="public",
    subnet="10.254.1.0/24",
    ranges=(AddressRange("10.254.1.10", "10.254.1.20"),),
    gateway="10.254.1.1",
    ipv6_prefix="fd53:7472:6174:1::/64",
    ipv6_mode=Ipv6Mode.SLAAC,
)


def test_dhcp_hands_out_only_static_entries_and_no_dns_service():
    args = argv(NET, "slb100", Path("/w"), "1h")
    assert "--dhcp-range=10.254.1.0,static,255.255.255.0,1h" in args
    assert "--port=0" in args and "--conf-file=/dev/null" in args
    assert "--dhcp-hostsfile=/w/hosts" in args
    assert "--dhcp-range=::,constructor:slb100,ra-only,64,1h" in args
    assert gateway_v6(NET) == "fd53:7472:6174:1::1"


def test_static_ipv6_uses_stateful_dhcpv6_and_no_ipv6_means_no_ra():
    static = dataclasses.replace(NET, ipv6_mode=Ipv6Mode.STATIC)
    assert "--dhcp-range=::,constructor:slb100,static,64,1h" in argv(
        static, "slb100", Path("/w"), "1h"
    )
    none = dataclasses.replace(NET, ipv6_prefix=None, ipv6_mode=Ipv6Mode.NONE)
    assert "--enable-ra" not in argv(none, "slb100", Path("/w"), "1h")
    assert gateway_v6(none) is None


def test_network_without_gateway_cannot_serve_dhcp():
    with pytest.raises(DriverError, match="network public has no gateway"):
        argv(dataclasses.replace(NET, gateway=None), "slb100", Path("/w"), "1h")


def test_host_line_binds_mac_to_ipv4_and_ipv6():
    lease = Lease("public", "10.254.1.10", "02:00:0a:fe:01:0a", "fd53::1", vm_id=7)
    assert host_line(lease) == "02:00:0a:fe:01:0a,10.254.1.10,[fd53::1],vm-7"
    reserved = dataclasses.replace(lease, vm_id=None, ipv6=None)
    assert host_line(reserved) == "02:00:0a:fe:01:0a,10.254.1.10,r-10-254-1-10"
