"""The contract every network driver passes (mixed into one test class per driver).

A driver's test module subclasses `NetworkDriverContract` and provides a `net_driver` fixture
returning a fresh driver.  The class is not collected on its own (its name does not start with
Test).
"""

from __future__ import annotations

import dataclasses

import pytest

from stratuslab.core.errors import Conflict, DriverError, InvalidInput
from stratuslab.core.hypervisor import NicSpec
from stratuslab.core.network import (
    AddressRange,
    Direction,
    IpProtocol,
    Ipv6Mode,
    Lease,
    Network,
    Rule,
    default_rules,
    eui64,
    mac_for,
)
from stratuslab.drivers.network.base import NetworkDriver

NETWORK = Network(
    name="contract",
    subnet="10.250.0.0/24",
    ranges=(AddressRange("10.250.0.10", "10.250.0.20"),),
    gateway="10.250.0.1",
    segment_id=4242,
    ipv6_prefix="fd25::/64",
    ipv6_mode=Ipv6Mode.SLAAC,
)


def lease(ip: str, vm_id: int) -> Lease:
    mac = mac_for("02:00", ip)
    return Lease(NETWORK.name, ip, mac, eui64("fd25::/64", mac), vm_id=vm_id)


class NetworkDriverContract:
    """Each driver's test class says how to observe what the driver made (its rules, its DHCP
    entries) through the two `observed_*` hooks, so the contract checks effects, not silence."""

    def observed_tcp_ports(self, net_driver: NetworkDriver, nic: NicSpec) -> set[int]:
        """Destination TCP ports the NIC's inbound rules open, as the data plane holds them."""
        raise NotImplementedError

    def observed_dhcp_macs(self, net_driver: NetworkDriver, network: Network) -> list[str]:
        """MAC addresses of the DHCP host entries of `network`, one per entry."""
        raise NotImplementedError

    def test_ensure_segment_is_idempotent(self, net_driver: NetworkDriver) -> None:
        net_driver.ensure_segment(NETWORK)
        net_driver.ensure_segment(NETWORK)
        assert net_driver.segment_status(NETWORK).present

    def test_plug_returns_the_nic_the_hypervisor_needs(self, net_driver: NetworkDriver) -> None:
        le = lease("10.250.0.10", 7)
        nic = net_driver.plug_nic(7, 0, NETWORK, le, default_rules())
        assert (nic.mac, nic.ip, nic.ipv6) == (le.mac, le.ip, le.ipv6)
        assert nic.tap and nic.tap in net_driver.segment_status(NETWORK).nics
        again = net_driver.plug_nic(7, 0, NETWORK, le, default_rules())
        assert again == nic

    def test_rules_change_live_on_a_plugged_nic(self, net_driver: NetworkDriver) -> None:
        le = lease("10.250.0.11", 8)
        nic = net_driver.plug_nic(8, 0, NETWORK, le, default_rules())
        web = Rule(Direction.INBOUND, IpProtocol.TCP, 80, 80, remote_cidr="10.0.0.0/8")
        net_driver.apply_rules(nic, (*default_rules(), web))
        assert 80 in self.observed_tcp_ports(net_driver, nic)
        net_driver.apply_rules(nic, default_rules())
        assert 80 not in self.observed_tcp_ports(net_driver, nic)

    def test_unresolved_group_rules_are_refused(self, net_driver: NetworkDriver) -> None:
        nic = net_driver.plug_nic(9, 0, NETWORK, lease("10.250.0.12", 9), default_rules())
        grouped = Rule(Direction.INBOUND, IpProtocol.TCP, 22, 22, remote_group="web")
        with pytest.raises(InvalidInput, match="unresolved"):
            net_driver.apply_rules(nic, (grouped,))

    def test_segment_with_nics_cannot_be_removed_until_they_are_unplugged(
        self, net_driver: NetworkDriver
    ) -> None:
        le = lease("10.250.0.13", 10)
        net_driver.plug_nic(10, 0, NETWORK, le, default_rules())
        with pytest.raises(Conflict, match="still has NICs"):
            net_driver.remove_segment(NETWORK)
        net_driver.unplug_nic(10, 0, NETWORK, le)
        net_driver.unplug_nic(10, 0, NETWORK, le)  # idempotent
        for other in net_driver.segment_status(NETWORK).nics:  # left by earlier tests
            vm = int(other[2:].split("n")[0])
            net_driver.unplug_nic(vm, 0, NETWORK, lease(f"10.250.0.{vm + 3}", vm))
        net_driver.remove_segment(NETWORK)
        net_driver.remove_segment(NETWORK)  # idempotent
        assert not net_driver.segment_status(NETWORK).present

    def test_dhcp_host_entries_are_idempotent(self, net_driver: NetworkDriver) -> None:
        le = lease("10.250.0.14", 11)
        net_driver.ensure_segment(NETWORK)
        net_driver.add_dhcp_host(NETWORK, le)
        net_driver.add_dhcp_host(NETWORK, le)
        assert self.observed_dhcp_macs(net_driver, NETWORK).count(le.mac) == 1
        net_driver.remove_dhcp_host(NETWORK, le)
        net_driver.remove_dhcp_host(NETWORK, le)
        assert le.mac not in self.observed_dhcp_macs(net_driver, NETWORK)

    def test_network_without_segment_id_is_refused(self, net_driver: NetworkDriver) -> None:
        with pytest.raises(DriverError, match="has no segment id"):
            net_driver.ensure_segment(dataclasses.replace(NETWORK, segment_id=None))
