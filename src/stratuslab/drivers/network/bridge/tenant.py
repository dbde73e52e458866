"""The layer-3 side of a tenant network: a namespace of its own, joined to the segment's bridge
by a veth pair, holding the gateway addresses and (through the driver) the network's dnsmasq.

Why a namespace per tenant network: the data-plane namespace holds no address on a tenant
bridge and routes nothing into or out of it, so a tenant segment reaches no other segment by
construction, whatever br_netfilter or any sysctl says, and two users may pick the same subnet.
IP forwarding stays off in the tenant namespace: nothing leaves the segment unless a router is
added.  A router forwards IPv4 and, when both networks have an IPv6 prefix, IPv6: its external
leg gets an address of the external prefix (the EUI-64 of its MAC, or the static mapping of its
IPv4 address), a default route to the external gateway, and the same rules as for IPv4 (the
segment's prefix masqueraded to that address, in only replies).  The tenant gateway's own router
advertisements (dnsmasq) give the guests their default route.  Floating addresses are IPv4.
Imports core, drivers._process and the sibling modules only.
"""

from __future__ import annotations

from stratuslab.core.network import Network, Router, ipv6_for
from stratuslab.drivers import _process
from stratuslab.drivers.network.bridge import links
from stratuslab.drivers.network.bridge.dnsmasq import gateway_v6
from stratuslab.drivers.network.bridge.namespace import create_netns, delete_netns, tenant_netns

GW_IF = "gw0"  # the gateway's interface inside the tenant namespace
EXT_IF = "ext0"  # the router's leg on the external network, inside the tenant namespace
NAT = "stratuslab-nat"
_NO_NAT = "".join(f"add table {f} {NAT}\ndelete table {f} {NAT}\n" for f in ("ip", "ip6"))


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
        create_netns(self.netns)  # a new namespace forwards nothing until a router says so
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

    def apply_router(self, router: Router | None, *, external_bridge: str) -> None:
        """Make the namespace route (or not): a leg on the external bridge with the router's
        address and the floating addresses, a default route, NAT and a forward filter that
        lets out what the segment starts and in only replies and floating-address traffic."""
        seg = self.network.segment_id
        ext_leg = f"slr{seg}"
        if router is None:
            links.delete(ext_leg, netns=self.data_plane)
            self._forwarding(False)
            self._nft(_NO_NAT)
            return
        ext = router.external
        ext_mac = _mac("02:54", seg or 0)
        v6 = router_v6(self.network, router, ext_mac)
        wanted = {router.ip, *(f.ip for f in router.floating)}
        have = set(links.addresses(EXT_IF, netns=self.netns)) if links.exists(
            EXT_IF, netns=self.netns) else set()  # fmt: skip
        if have - wanted:  # a floating address went: start the leg afresh
            links.delete(ext_leg, netns=self.data_plane)
        if not links.exists(EXT_IF, netns=self.netns):
            links.delete(ext_leg, netns=self.data_plane)
            links.ensure_veth(ext_leg, netns=self.data_plane, bridge=external_bridge,
                              peer_mac=ext_mac)  # fmt: skip
            links.move_to_netns(f"{ext_leg}p", netns=self.data_plane, target=self.netns,
                                new_name=EXT_IF)  # fmt: skip
        links.set_up(EXT_IF, netns=self.netns)
        for ip in sorted(wanted):
            links.ensure_address(EXT_IF, ip, ext.prefixlen, netns=self.netns)
        if ext.gateway:
            links.add_route("0.0.0.0/0", gateway=ext.gateway, dev=EXT_IF, netns=self.netns)
        gw6 = gateway_v6(ext)
        if v6 and gw6:
            links.ensure_address(EXT_IF, v6, 64, netns=self.netns)
            links.add_route("::/0", gateway=gw6, dev=EXT_IF, netns=self.netns)
        script = nat_script(self.network.subnet, router)
        if v6 and self.network.ipv6_prefix:
            script += nat6_script(self.network.ipv6_prefix, v6)
        self._nft(_NO_NAT + script)
        self._forwarding(True, v6=bool(v6))

    def _nft(self, script: str) -> None:
        _process.run(["ip", "netns", "exec", self.netns, "nft", "-f", "-"],
                     input_text=script, timeout=15)  # fmt: skip

    def _forwarding(self, on: bool, *, v6: bool = False) -> None:
        _process.run(["ip", "netns", "exec", self.netns, "sysctl", "-q", "-w",
                      f"net.ipv4.ip_forward={int(on)}",
                      f"net.ipv6.conf.all.forwarding={int(on and v6)}"], timeout=10)  # fmt: skip

    def remove(self) -> None:
        links.delete(f"slr{self.network.segment_id}", netns=self.data_plane)
        links.delete(self.leg, netns=self.data_plane)
        delete_netns(self.netns)


def _gw_mac(network: Network) -> str:
    """A stable, locally administered MAC for the gateway (guests' ARP caches survive a
    re-plug): 02:53:<segment id as four bytes>."""
    return _mac("02:53", network.segment_id or 0)


def _mac(prefix: str, seg: int) -> str:
    return prefix + ":" + ":".join(f"{(seg >> s) & 0xFF:02x}" for s in (24, 16, 8, 0))


def router_v6(network: Network, router: Router, ext_mac: str) -> str | None:
    """The router's IPv6 address on the external network, when both networks have IPv6."""
    if not (network.ipv6_prefix and gateway_v6(network) and gateway_v6(router.external)):
        return None
    return ipv6_for(router.external, router.ip, ext_mac)


def nat6_script(prefix: str, router_ip6: str) -> str:
    """The IPv6 twin of nat_script (without floating addresses): the segment's prefix out
    through the router's address, in only replies."""
    t = f"ip6 {NAT}"
    return "\n".join([
        f"add table {t}",
        f"add chain {t} nat_post {{ type nat hook postrouting priority 100; }}",
        f"add chain {t} forward_filter {{ type filter hook forward priority 0; policy drop; }}",
        f'add rule {t} forward_filter iifname "{GW_IF}" oifname "{EXT_IF}" accept',
        f"add rule {t} forward_filter ct state established,related accept",
        f'add rule {t} nat_post oifname "{EXT_IF}" ip6 saddr {prefix} snat to {router_ip6}',
    ]) + "\n"  # fmt: skip


def nat_script(subnet: str, router: Router) -> str:
    """One atomic nft transaction: the router's NAT and forward filter, replaced whole."""
    t = f"ip {NAT}"
    lines = [f"add table {t}", f"delete table {t}", f"add table {t}",
             f"add chain {t} nat_pre {{ type nat hook prerouting priority -100; }}",
             f"add chain {t} nat_post {{ type nat hook postrouting priority 100; }}",
             f"add chain {t} forward_filter {{ type filter hook forward priority 0; policy drop; }}",
             f'add rule {t} forward_filter iifname "{GW_IF}" oifname "{EXT_IF}" accept',
             f"add rule {t} forward_filter ct state established,related accept",
             f"add rule {t} forward_filter ct status dnat accept"]  # fmt: skip
    for f in router.floating:
        lines.append(f'add rule {t} nat_pre iifname "{EXT_IF}" ip daddr {f.ip} dnat to {f.private_ip}')
        lines.append(f'add rule {t} nat_post oifname "{EXT_IF}" ip saddr {f.private_ip} '
                     f"snat to {f.ip}")  # fmt: skip
    lines.append(f'add rule {t} nat_post oifname "{EXT_IF}" ip saddr {subnet} snat to {router.ip}')
    return "\n".join(lines) + "\n"
