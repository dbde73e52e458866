"""The `simulated` network driver: the bridge driver's interface and bookkeeping without kernel
objects, for scale tests and development on machines without privileges.

It records segments, NICs, rules and DHCP entries in memory and checks the same preconditions
(segment id present, no NICs left on a removed segment), so services behave as with `bridge`.
Imports core only.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import ClassVar

from stratuslab.core.errors import Conflict, DriverError, InvalidInput
from stratuslab.core.hypervisor import NicSpec
from stratuslab.core.network import (
    Lease,
    Network,
    NetworkDriverCaps,
    Rule,
    SegmentKind,
    SegmentStatus,
)
from stratuslab.drivers.network.base import NetworkDriver


class SimulatedNetworkDriver(NetworkDriver):
    name: ClassVar[str] = "simulated"
    capabilities: ClassVar[NetworkDriverCaps] = NetworkDriverCaps(
        real_data_plane=False, segment_kinds=(SegmentKind.VXLAN, SegmentKind.VLAN)
    )

    def __init__(self, *, fail: Sequence[str] = ()) -> None:
        self.fail = frozenset(fail)  # method names that raise DriverError, for failure tests
        self.segments: dict[str, Network] = {}
        self.nics: dict[str, tuple[str, NicSpec]] = {}  # tap -> (network, nic)
        self.rules: dict[str, tuple[Rule, ...]] = {}
        self.dhcp: dict[str, dict[str, Lease]] = {}  # network -> mac -> lease
        self._lock = threading.Lock()

    def _maybe_fail(self, what: str) -> None:
        if what in self.fail:
            raise DriverError(f"simulated network driver: {what} failed (as configured)")

    def ensure_segment(self, network: Network) -> None:
        self._maybe_fail("ensure_segment")
        if network.segment_id is None:
            raise DriverError(f"network {network.name} has no segment id")
        with self._lock:
            self.segments[network.name] = network
            self.dhcp.setdefault(network.name, {})

    def remove_segment(self, network: Network) -> None:
        with self._lock:
            taps = sorted(t for t, (net, _) in self.nics.items() if net == network.name)
            if taps:
                raise Conflict(
                    f"network {network.name} still has NICs on this node: {', '.join(taps)}",
                    hint="kill or detach the VMs using it first",
                )
            self.segments.pop(network.name, None)
            self.dhcp.pop(network.name, None)

    def plug_nic(
        self, vm_id: int, nic_index: int, network: Network, lease: Lease, rules: Sequence[Rule]
    ) -> NicSpec:
        self._maybe_fail("plug_nic")
        self.ensure_segment(network)
        _check_resolved(rules)
        tap = f"sl{vm_id}n{nic_index}"
        nic = NicSpec(mac=lease.mac, tap=tap, netns=None, ip=lease.ip, ipv6=lease.ipv6)
        with self._lock:
            self.nics[tap] = (network.name, nic)
            self.rules[tap] = tuple(rules)
            self.dhcp[network.name][lease.mac] = lease
        return nic

    def unplug_nic(self, vm_id: int, nic_index: int, network: Network, lease: Lease) -> None:
        tap = f"sl{vm_id}n{nic_index}"
        with self._lock:
            self.nics.pop(tap, None)
            self.rules.pop(tap, None)
            self.dhcp.get(network.name, {}).pop(lease.mac, None)

    def apply_rules(self, nic: NicSpec, rules: Sequence[Rule]) -> None:
        self._maybe_fail("apply_rules")
        _check_resolved(rules)
        if nic.tap not in self.nics:
            raise DriverError(f"NIC {nic.tap} is not plugged on this node")
        with self._lock:
            self.rules[nic.tap] = tuple(rules)

    def add_dhcp_host(self, network: Network, lease: Lease) -> None:
        with self._lock:
            self.dhcp.setdefault(network.name, {})[lease.mac] = lease

    def remove_dhcp_host(self, network: Network, lease: Lease) -> None:
        with self._lock:
            self.dhcp.get(network.name, {}).pop(lease.mac, None)

    def segment_status(self, network: Network) -> SegmentStatus:
        with self._lock:
            taps = tuple(sorted(t for t, (net, _) in self.nics.items() if net == network.name))
            return SegmentStatus(network.name, network.name in self.segments, taps)


def _check_resolved(rules: Sequence[Rule]) -> None:
    for rule in rules:
        if rule.remote_group is not None:
            raise InvalidInput(
                f"rule with remote group {rule.remote_group} reached the driver unresolved",
                hint="resolve groups with services.network.rules_for_nic first",
            )
