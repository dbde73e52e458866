"""The all-in-one data-plane namespace: created (or found again) at server start, left in place
at a server stop, removed only by `stratus-server remove-data-plane`.

It holds every bridge, tap, dnsmasq and nftables table of the node, so an all-in-one cloud never
touches the host's own interfaces beyond one veth pair: `<host_if>` on the host side and
`uplink0` inside, with a link-local /30 and a ULA /64, IP forwarding inside, and a host route per
routed network (public and local classes; private stays unreachable, as in StratusLab).
Host routes belong to their cloud: each goes through this namespace's own veth with a metric
derived from the namespace name, so two clouds on one host each keep their route (the lower
metric carries the traffic) and removing one leaves the other's in place.
`host_netns` lets tests play "the host" in a namespace of their own.  Imports core, drivers._process
and the sibling links module only.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import zlib

from stratuslab.core.errors import DriverError
from stratuslab.core.network import AddressClass, Ipv6Mode, Network
from stratuslab.drivers import _process
from stratuslab.drivers.network.bridge import links

UPLINK = "uplink0"


def _netns_list() -> set[str]:
    out = _process.run(["ip", "netns", "list"], timeout=10).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def netns_exists(name: str) -> bool:
    return name in _netns_list()


def tenant_netns(data_plane: str | None, segment: int) -> str:
    """The namespace holding a tenant network's gateway address and dnsmasq (and its router)."""
    return f"{data_plane or 'sl'}-t{segment}"


def tenant_namespaces(data_plane: str | None) -> list[str]:
    prefix = f"{data_plane or 'sl'}-t"
    return sorted(n for n in _netns_list() if n.startswith(prefix) and n[len(prefix):].isdigit())


def create_netns(name: str) -> None:
    if name not in _netns_list():
        _process.run(["ip", "netns", "add", name], timeout=10)
    links.set_up("lo", netns=name)


def delete_netns(name: str) -> None:
    """Kill what still runs inside (only processes in our own namespace), then delete it."""
    if name not in _netns_list():
        return
    pids = _process.run(["ip", "netns", "pids", name], timeout=10, check=False).stdout.split()
    for pid in pids:
        if pid.isdigit() and int(pid) != os.getpid():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
    _process.run(["ip", "netns", "delete", name], timeout=10)


class DataPlaneNamespace:
    def __init__(
        self,
        name: str,
        *,
        host_netns: str | None = None,
        host_if: str | None = None,
        link_net: str = "169.254.77.0/30",
        link_net6: str = "fd53:7472:6174:ffff::/64",
    ) -> None:
        if len(name) > 200 or "/" in name:
            raise DriverError(f"namespace name {name!r} is not valid")
        self.name = name
        self.host_netns = host_netns
        self.host_if = host_if or f"slh{zlib.crc32(name.encode()):08x}"
        net = ipaddress.IPv4Network(link_net)
        self.host_addr, self.ns_addr = (str(a) for a in list(net.hosts())[:2])
        self.prefixlen = net.prefixlen
        # link-local alone is not enough: replies from guests need a routable source address
        net6 = ipaddress.IPv6Network(link_net6)
        self.host_addr6, self.ns_addr6 = str(net6[1]), str(net6[2])
        self.metric = 1000 + zlib.crc32(name.encode()) % 50_000

    def create(self) -> None:
        """Namespace, forwarding and the veth pair to the host (idempotent)."""
        create_netns(self.name)
        _process.run(
            ["ip", "netns", "exec", self.name, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1",
             "net.ipv6.conf.all.forwarding=1"],
            timeout=10,
        )  # fmt: skip
        if not links.exists(UPLINK, netns=self.name):
            links.delete(self.host_if, netns=self.host_netns)
            with links._ipr(self.host_netns) as ipr:
                ipr.link("add", ifname=self.host_if, kind="veth", peer=UPLINK)
            links.move_to_netns(UPLINK, netns=self.host_netns, target=self.name)
        links.ensure_address(self.host_if, self.host_addr, self.prefixlen, netns=self.host_netns)
        links.ensure_address(self.host_if, "fe80::1", 64, netns=self.host_netns)
        links.ensure_address(self.host_if, self.host_addr6, 64, netns=self.host_netns)
        links.set_up(self.host_if, netns=self.host_netns)
        links.ensure_address(UPLINK, self.ns_addr, self.prefixlen, netns=self.name)
        links.ensure_address(UPLINK, "fe80::2", 64, netns=self.name)
        links.ensure_address(UPLINK, self.ns_addr6, 64, netns=self.name)
        links.set_up(UPLINK, netns=self.name)

    def route(self, network: Network) -> None:
        """Let the host reach the network's guests (public and local classes only)."""
        if network.address_class is AddressClass.PRIVATE:
            return
        links.add_route(network.subnet, gateway=self.ns_addr, dev=self.host_if,
                        netns=self.host_netns, metric=self.metric)  # fmt: skip
        if network.ipv6_prefix and network.ipv6_mode is not Ipv6Mode.NONE:
            links.add_route(network.ipv6_prefix, gateway="fe80::2", dev=self.host_if,
                            netns=self.host_netns, metric=self.metric)  # fmt: skip

    def unroute(self, network: Network) -> None:
        """Remove this cloud's routes to the network; other clouds' routes stay."""
        links.del_route(network.subnet, dev=self.host_if, metric=self.metric,
                        netns=self.host_netns)  # fmt: skip
        if network.ipv6_prefix:
            links.del_route(network.ipv6_prefix, dev=self.host_if, metric=self.metric,
                            netns=self.host_netns)  # fmt: skip

    def destroy(self) -> None:
        """Remove the namespace, its tenant networks' namespaces and the uplink (its routes go
        with it)."""
        for ns in tenant_namespaces(self.name):
            delete_netns(ns)
        links.delete(self.host_if, netns=self.host_netns)
        delete_netns(self.name)
