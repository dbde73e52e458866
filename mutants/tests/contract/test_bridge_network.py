"""The network driver contract, run against the bridge driver in a namespace of its own."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.contract.network_contract import NetworkDriverContract

from stratuslab.core.hypervisor import NicSpec
from stratuslab.core.network import Network
from stratuslab.drivers.network.bridge import BridgeConfig, BridgeDriver
from stratuslab.drivers.network.bridge.namespace import create_netns, delete_netns

pytestmark = pytest.mark.integration


@pytest.fixture
def net_driver(tmp_path: Path) -> Iterator[BridgeDriver]:
    if os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "nft", "dnsmasq")):
        pytest.skip("the bridge driver needs root, ip, nft and dnsmasq (run scripts/setup.sh)")
    ns = f"sltc{os.getpid() % 100000}-{tmp_path.name[-12:]}"[:40]
    create_netns(ns)
    drv = BridgeDriver(BridgeConfig(str(tmp_path), netns=ns))
    try:
        yield drv
    finally:
        drv.close()
        delete_netns(ns)


class TestBridgeNetwork(NetworkDriverContract):
    def observed_tcp_ports(self, net_driver: Any, nic: NicSpec) -> set[int]:
        ruleset = subprocess.run(["ip", "netns", "exec", net_driver.netns, "nft", "list",
                                  "ruleset"], capture_output=True, text=True, check=True,
                                 timeout=30).stdout
        return {int(port) for port in re.findall(r"tcp dport (\d+)", ruleset)}

    def observed_dhcp_macs(self, net_driver: Any, network: Network) -> list[str]:
        return [line.split(",")[0] for line in net_driver.dhcp_hosts(network)]
