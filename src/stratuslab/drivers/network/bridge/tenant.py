"""The layer-3 side of a tenant network: a namespace of its own, joined to the segment's bridge
by a veth pair, holding the gateway addresses and (through the driver) the network's dnsmasq.

Why a namespace per tenant network: the data-plane namespace holds no address on a tenant
bridge and routes nothing into or out of it, so a tenant segment reaches no other segment by
construction, whatever br_netfilter or any sysctl says, and two users may pick the same subnet.
IP forwarding stays off in the tenant namespace: nothing leaves the segment unless a router is
added.  Imports core, drivers._process and the sibling modules only.
"""

from __future__ import annotations

from stratuslab.core.network import Network
from stratuslab.drivers import _process
from stratuslab.drivers.network.bridge import links
from stratuslab.drivers.network.bridge.dnsmasq import gateway_v6
from stratuslab.drivers.network.bridge.namespace import create_netns, delete_netns, tenant_netns

GW_IF = "gw0"  # the gateway's interface inside the tenant namespace


class TenantGateway:
    def __init__(self, network: Network, *, data_plane: str | None, bridge: str) -> None:
        assert network.segment_id is not None
        self.network = network
        self.data_plane = data_plane
        self.bridge = bridge
        self.netns = tenant_netns(data_plane, network.segment_id)
        self.leg = f"slg{network.segment_id}"  # the veth end on the bridge

    def ensure(self) -> None:
        """Namespace, veth leg on the bridge, gateway addresses (idempotent)."""
        create_netns(self.netns)
        _process.run(["ip", "netns", "exec", self.netns, "sysctl", "-q", "-w",
                      "net.ipv4.ip_forward=0", "net.ipv6.conf.all.forwarding=0"],
                     timeout=10)  # fmt: skip
        if not links.exists(GW_IF, netns=self.netns):
            links.delete(self.leg, netns=self.data_plane)
            links.ensure_veth(self.leg, netns=self.data_plane, bridge=self.bridge,
                              peer_mac=_gw_mac(self.network))  # fmt: skip
            links.move_to_netns(f"{self.leg}p", netns=self.data_plane, target=self.netns,
                                new_name=GW_IF)  # fmt: skip
        links.set_up(GW_IF, netns=self.netns)
        assert self.network.gateway is not None
        links.ensure_address(GW_IF, self.network.gateway, self.network.prefixlen,
                             netns=self.netns)  # fmt: skip
        v6 = gateway_v6(self.network)
        if v6:
            links.ensure_address(GW_IF, v6, 64, netns=self.netns)

    def remove(self) -> None:
        links.delete(self.leg, netns=self.data_plane)
        delete_netns(self.netns)


def _gw_mac(network: Network) -> str:
    """A stable, locally administered MAC for the gateway (guests' ARP caches survive a
    re-plug): 02:53:<segment id as four bytes>."""
    seg = network.segment_id or 0
    return "02:53:" + ":".join(f"{(seg >> s) & 0xFF:02x}" for s in (24, 16, 8, 0))
