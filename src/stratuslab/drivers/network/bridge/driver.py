"""The `bridge` network driver: a Linux bridge per segment, a tap per NIC, the segment carried
between hosts as VXLAN (VNI = segment id) or 802.1Q (tag = segment id), dnsmasq per network on
the node that serves DHCP, and nftables per NIC for anti-spoofing and security groups.

Kernel objects live in `config.netns` (the all-in-one data-plane namespace) or in the current
namespace when it is None (a multi-node `stratus-node`).  Backend names (bridge, VXLAN device,
chains) stay inside; only the tap name leaves, in the NicSpec the hypervisor opens.  Every
method is idempotent.  Imports core, drivers._process and this package only.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from stratuslab.core.errors import Conflict, DriverError
from stratuslab.core.hypervisor import NicSpec
from stratuslab.core.network import (
    AddressClass,
    Lease,
    Network,
    NetworkDriverCaps,
    Rule,
    SegmentKind,
    SegmentStatus,
)
from stratuslab.drivers.network.base import NetworkDriver
from stratuslab.drivers.network.bridge import firewall, links
from stratuslab.drivers.network.bridge.dnsmasq import Dnsmasq, gateway_v6
from stratuslab.drivers.network.bridge.namespace import (
    DataPlaneNamespace,
    delete_netns,
    tenant_namespaces,
)
from stratuslab.drivers.network.bridge.tenant import GW_IF, TenantGateway


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    state_dir: str  # dnsmasq files live under <state_dir>/dnsmasq/<network>/
    netns: str | None = None  # where the data plane lives; None = this namespace
    vxlan_local: str | None = None  # this node's underlay address
    vxlan_underlay: str | None = None  # underlay interface
    vxlan_peers: tuple[str, ...] = ()  # other nodes' underlay addresses
    vlan_uplink: str | None = None  # physical interface carrying 802.1Q segments
    dhcp: bool = True  # this node holds the gateway address and runs dnsmasq
    endpoint: str = "tap"  # tap (QEMU opens it) | veth (peer `<tap>p` for a container/test)
    lease_time: str = "1h"


def bridge_name(network: Network) -> str:
    seg = _segment(network)
    return f"slq{seg}" if network.segment_kind is SegmentKind.VLAN else f"slb{seg}"


def carrier_name(network: Network) -> str:
    seg = _segment(network)
    return f"slv{seg}" if network.segment_kind is SegmentKind.VLAN else f"slx{seg}"


def tap_name(vm_id: int, nic_index: int) -> str:
    name = f"sl{vm_id}n{nic_index}"
    if len(name) > 15:
        raise DriverError(f"VM {vm_id} NIC {nic_index}: interface name {name} is too long")
    return name


def _is_nic(port: str, network: Network) -> bool:
    """A bridge port that is a VM's NIC (not the carrier, not a tenant gateway's leg)."""
    return port not in (carrier_name(network), f"slg{network.segment_id}")


def _segment(network: Network) -> int:
    if network.segment_id is None:
        raise DriverError(
            f"network {network.name} has no segment id",
            hint="networks get one from the pool when they are created",
        )
    return network.segment_id


class BridgeDriver(NetworkDriver):
    name: ClassVar[str] = "bridge"
    capabilities: ClassVar[NetworkDriverCaps] = NetworkDriverCaps(
        real_data_plane=True, segment_kinds=(SegmentKind.VXLAN, SegmentKind.VLAN)
    )

    def __init__(self, config: BridgeConfig, *, uplink: DataPlaneNamespace | None = None):
        if config.endpoint not in ("tap", "veth"):
            raise DriverError(f"network endpoint {config.endpoint!r} is not tap or veth")
        self.config = config
        self.uplink = uplink
        self._dnsmasq: dict[str, Dnsmasq] = {}
        self._lock = threading.RLock()
        self._table_ready = False
        self._private: set[str] = set()  # bridges of private networks (no routing into them)

    @classmethod
    def all_in_one(
        cls, state_dir: str, netns: str, *, host_netns: str | None = None, lease_time: str = "1h"
    ) -> BridgeDriver:
        """Create the data-plane namespace `netns` with its veth uplink to the host and return a
        driver working inside it; `shutdown()` removes it all again."""
        uplink = DataPlaneNamespace(netns, host_netns=host_netns)
        uplink.create()
        return cls(BridgeConfig(state_dir, netns=netns, lease_time=lease_time), uplink=uplink)

    def shutdown(self) -> None:
        """Stop dnsmasq and remove the data-plane namespace with everything in it (guests
        included): `stratus-server remove-data-plane`, never a plain server stop."""
        self.close()
        if self.uplink is not None:
            self.uplink.destroy()  # tenant namespaces included
        else:
            for ns in tenant_namespaces(self.netns):
                delete_netns(ns)

    def detach(self) -> None:
        """Leave the data plane running without us (server stop): bridges, taps, nftables and
        dnsmasq stay, and the next driver adopts them (`ensure_segment` is idempotent and
        dnsmasq is adopted by its pid file)."""
        with self._lock:
            for dns in self._dnsmasq.values():
                dns.detach()
            self._dnsmasq.clear()

    @property
    def netns(self) -> str | None:
        return self.config.netns

    # --- segments --------------------------------------------------------------------------

    def ensure_segment(self, network: Network) -> None:
        with self._lock:
            br = bridge_name(network)
            links.ensure_bridge(br, netns=self.netns)
            self._ensure_table(after_bridge=True)
            self._ensure_carrier(network, br)
            if network.address_class is AddressClass.TENANT:
                if self.config.dhcp and network.gateway:  # L3 in a namespace of its own
                    gw = TenantGateway(network, data_plane=self.netns, bridge=br)
                    gw.ensure()
                    self._ensure_dhcp(network, GW_IF, gw.netns)
                    router = network.router
                    if router is not None:
                        self.ensure_segment(router.external)
                    gw.apply_router(router, external_bridge=bridge_name(router.external)
                                    if router else "")  # fmt: skip
                return  # no address here, no host route: reachable through a router only
            if self.config.dhcp and network.gateway:
                self._ensure_gateway(network, br)
                self._set_private(br, network.address_class is AddressClass.PRIVATE)
            if self.uplink is not None:
                self.uplink.route(network)

    def _ensure_carrier(self, network: Network, br: str) -> None:
        if network.address_class is AddressClass.PRIVATE:
            return  # host-local: never leaves this node
        seg, dev = _segment(network), carrier_name(network)
        if network.segment_kind is SegmentKind.VLAN:
            if self.config.vlan_uplink:
                links.ensure_vlan(
                    dev, netns=self.netns, vid=seg, bridge=br, uplink=self.config.vlan_uplink
                )
            return
        if self.config.vxlan_local or self.config.vxlan_peers:
            links.ensure_vxlan(
                dev,
                netns=self.netns,
                vni=seg,
                bridge=br,
                local=self.config.vxlan_local,
                underlay=self.config.vxlan_underlay,
                peers=self.config.vxlan_peers,
            )

    def _ensure_gateway(self, network: Network, br: str) -> None:
        assert network.gateway is not None
        links.ensure_address(br, network.gateway, network.prefixlen, netns=self.netns)
        v6 = gateway_v6(network)
        if v6:
            links.ensure_address(br, v6, 64, netns=self.netns)
        self._ensure_dhcp(network, br, self.netns)

    def _ensure_dhcp(self, network: Network, iface: str, netns: str | None) -> None:
        dns = self._dnsmasq.get(network.name)
        if dns is None or dns.network != network or dns.netns != netns:
            if dns is not None:
                dns.stop()
            workdir = Path(self.config.state_dir) / "dnsmasq" / network.name
            dns = Dnsmasq(network, iface, workdir=workdir, netns=netns)
            self._dnsmasq[network.name] = dns
        dns.start(self.config.lease_time)

    def _set_private(self, bridge: str, private: bool) -> None:
        before = set(self._private)
        if private:
            self._private.add(bridge)
        else:
            self._private.discard(bridge)
        if self._private != before:
            firewall.apply(firewall.routing_script(sorted(self._private)), netns=self.netns)

    def remove_segment(self, network: Network) -> None:
        with self._lock:
            br = bridge_name(network)
            nics = [p for p in links.ports(br, netns=self.netns) if _is_nic(p, network)]
            if nics:
                raise Conflict(
                    f"network {network.name} still has NICs on this node: {', '.join(nics)}",
                    hint="kill or detach the VMs using it first",
                )
            dns = self._dnsmasq.pop(network.name, None)
            if dns is not None:
                dns.stop()
            if network.address_class is AddressClass.TENANT:
                TenantGateway(network, data_plane=self.netns, bridge=br).remove()
            elif self.uplink is not None:
                self.uplink.unroute(network)
            links.delete(carrier_name(network), netns=self.netns)
            links.delete(br, netns=self.netns)
            if br in self._private:
                self._set_private(br, False)

    def segment_status(self, network: Network) -> SegmentStatus:
        br = bridge_name(network)
        present = links.exists(br, netns=self.netns)
        nics = [p for p in links.ports(br, netns=self.netns) if _is_nic(p, network)]
        return SegmentStatus(network.name, present, tuple(nics))

    # --- NICs ------------------------------------------------------------------------------

    def plug_nic(
        self, vm_id: int, nic_index: int, network: Network, lease: Lease, rules: Sequence[Rule]
    ) -> NicSpec:
        tap = tap_name(vm_id, nic_index)
        nic = NicSpec(mac=lease.mac, tap=tap, netns=self.netns, ip=lease.ip, ipv6=lease.ipv6)
        self.ensure_segment(network)
        try:
            # rules first: the NIC never forwards a frame without anti-spoofing in place
            self.apply_rules(nic, rules)
            if self.config.endpoint == "veth":
                links.ensure_veth(
                    tap, netns=self.netns, bridge=bridge_name(network), peer_mac=lease.mac
                )
            else:
                links.ensure_tap(tap, netns=self.netns, bridge=bridge_name(network))
            self.add_dhcp_host(network, lease)
        except Exception:
            with contextlib.suppress(Exception):
                self.unplug_nic(vm_id, nic_index, network, lease)
            raise
        return nic

    def unplug_nic(self, vm_id: int, nic_index: int, network: Network, lease: Lease) -> None:
        tap = tap_name(vm_id, nic_index)
        links.delete(tap, netns=self.netns)
        self._ensure_table()
        firewall.apply(firewall.remove_nic_script(tap), netns=self.netns)
        self.remove_dhcp_host(network, lease)

    def apply_rules(self, nic: NicSpec, rules: Sequence[Rule]) -> None:
        if nic.tap is None or nic.ip is None:
            raise DriverError("a NIC without a tap or an IPv4 address cannot be filtered")
        self._ensure_table()
        addrs = firewall.NicAddresses(nic.tap, nic.mac, nic.ip, nic.ipv6)
        firewall.apply(firewall.nic_script(addrs, rules), netns=self.netns)

    # --- DHCP ------------------------------------------------------------------------------

    def add_dhcp_host(self, network: Network, lease: Lease) -> None:
        self._set_host(network, lease, present=True)

    def remove_dhcp_host(self, network: Network, lease: Lease) -> None:
        self._set_host(network, lease, present=False)

    def dhcp_hosts(self, network: Network) -> list[str]:
        dns = self._dnsmasq.get(network.name)
        return dns.hosts() if dns else []

    def _set_host(self, network: Network, lease: Lease, *, present: bool) -> None:
        if not (self.config.dhcp and network.gateway):
            return  # another node serves DHCP for this network
        with self._lock:
            dns = self._dnsmasq.get(network.name)
            if dns is None:
                if not present:
                    return
                self.ensure_segment(network)
                dns = self._dnsmasq[network.name]
            dns.set_host(lease, present=present)

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            for dns in self._dnsmasq.values():
                dns.stop()
            self._dnsmasq.clear()

    def _ensure_table(self, *, after_bridge: bool = False) -> None:
        """Load the base table once per driver, after a bridge exists (see firewall.base_script);
        before that, only make sure the table exists so NIC chains can be written."""
        if self._table_ready:
            return
        firewall.apply(firewall.base_script(), netns=self.netns)
        self._table_ready = after_bridge
