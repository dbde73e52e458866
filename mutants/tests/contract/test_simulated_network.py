"""The network driver contract, run against the simulated driver."""

from __future__ import annotations

from typing import Any

import pytest
from tests.contract.network_contract import NETWORK, NetworkDriverContract, lease

from stratuslab.core.errors import DriverError
from stratuslab.core.hypervisor import NicSpec
from stratuslab.core.network import Direction, IpProtocol, Network, default_rules
from stratuslab.drivers.network.simulated import SimulatedNetworkDriver


@pytest.fixture
def net_driver() -> SimulatedNetworkDriver:
    return SimulatedNetworkDriver()


class TestSimulatedNetwork(NetworkDriverContract):
    def observed_tcp_ports(self, net_driver: Any, nic: NicSpec) -> set[int]:
        return {r.port_min for r in net_driver.rules[nic.tap]
                if r.direction is Direction.INBOUND and r.protocol is IpProtocol.TCP
                and r.port_min is not None}

    def observed_dhcp_macs(self, net_driver: Any, network: Network) -> list[str]:
        return list(net_driver.dhcp.get(network.name, {}))


def test_simulated_driver_records_rules_and_dhcp_entries() -> None:
    drv = SimulatedNetworkDriver()
    le = lease("10.250.0.10", 1)
    nic = drv.plug_nic(1, 0, NETWORK, le, default_rules())
    assert drv.rules[nic.tap] == default_rules()
    assert drv.dhcp[NETWORK.name][le.mac] == le


def test_simulated_driver_fails_on_demand() -> None:
    drv = SimulatedNetworkDriver(fail=("plug_nic",))
    with pytest.raises(DriverError, match="plug_nic failed"):
        drv.plug_nic(1, 0, NETWORK, lease("10.250.0.10", 1), default_rules())
