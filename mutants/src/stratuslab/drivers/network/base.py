"""The network driver contract (core.network.NetworkDriverPort as an ABC).

Rules every driver follows (the contract suite in tests/contract checks them):
- every call is idempotent: ensuring an existing segment, plugging a plugged NIC, unplugging a
  missing one or removing a missing segment succeed;
- a NIC never forwards a frame before its anti-spoofing rules are in place, and `apply_rules`
  replaces a NIC's security-group rules live;
- a failed `plug_nic` cleans up after itself and raises DriverError with the backend's text;
- backend names stay inside the driver, except the tap name in the returned NicSpec.
Imports core only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from stratuslab.core.hypervisor import NicSpec
from stratuslab.core.network import Lease, Network, NetworkDriverCaps, Rule, SegmentStatus


class NetworkDriver(ABC):
    name: ClassVar[str]
    capabilities: ClassVar[NetworkDriverCaps]

    @abstractmethod
    def ensure_segment(self, network: Network) -> None:
        """Make the network's segment exist on this node (bridge, carrier, DHCP)."""

    @abstractmethod
    def remove_segment(self, network: Network) -> None:
        """Remove the segment; Conflict while NICs are still plugged into it."""

    @abstractmethod
    def plug_nic(
        self, vm_id: int, nic_index: int, network: Network, lease: Lease, rules: Sequence[Rule]
    ) -> NicSpec:
        """Create the NIC's tap on the segment with anti-spoofing + `rules`, and its DHCP entry."""

    @abstractmethod
    def unplug_nic(self, vm_id: int, nic_index: int, network: Network, lease: Lease) -> None: ...

    @abstractmethod
    def apply_rules(self, nic: NicSpec, rules: Sequence[Rule]) -> None: ...

    @abstractmethod
    def add_dhcp_host(self, network: Network, lease: Lease) -> None: ...

    @abstractmethod
    def remove_dhcp_host(self, network: Network, lease: Lease) -> None: ...

    @abstractmethod
    def segment_status(self, network: Network) -> SegmentStatus: ...

    def close(self) -> None:
        """Stop helper processes; kernel objects stay for the next start."""
