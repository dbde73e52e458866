"""Kernel links through netlink (pyroute2): bridges, VXLAN and VLAN devices, taps, veth pairs
and addresses, in a named network namespace or the current one.

Every function is idempotent (creating what exists or deleting what is gone succeeds) and turns
netlink errors into DriverError naming the link.  Imports core, pyroute2 and the standard
library only; nothing here runs a subprocess.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from stratuslab.core.errors import DriverError

IFA_F_NODAD = 0x02


@contextmanager
def _ipr(netns: str | None) -> Iterator[Any]:
    try:
        ipr = IPRoute(netns=netns) if netns else IPRoute()
    except (OSError, NetlinkError) as exc:
        raise DriverError(
            f"cannot open netlink in network namespace {netns}: {exc}",
            hint="check that the data-plane namespace exists: ip netns list",
        ) from exc
    try:
        yield ipr
    finally:
        ipr.close()


def _index(ipr: Any, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return int(found[0]) if found else None


def _fail(what: str, exc: NetlinkError, netns: str | None) -> DriverError:
    where = f" in namespace {netns}" if netns else ""
    return DriverError(f"{what}{where} failed: {exc.args[1] if len(exc.args) > 1 else exc}")


def exists(name: str, *, netns: str | None) -> bool:
    with _ipr(netns) as ipr:
        return _index(ipr, name) is not None


def _create(ipr: Any, netns: str | None, name: str, **attrs: Any) -> int:
    idx = _index(ipr, name)
    if idx is None:
        try:
            ipr.link("add", ifname=name, **attrs)
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise _fail(f"creating {attrs.get('kind', 'link')} {name}", exc, netns) from exc
        idx = _index(ipr, name)
    if idx is None:
        raise DriverError(f"link {name} vanished right after it was created")
    return idx


def _enslave(ipr: Any, netns: str | None, idx: int, bridge: str, mtu: int | None = None) -> None:
    br = _index(ipr, bridge)
    if br is None:
        raise DriverError(f"bridge {bridge} does not exist", hint="ensure the segment first")
    try:
        extra = {"mtu": mtu} if mtu else {}
        ipr.link("set", index=idx, master=br, state="up", **extra)
    except NetlinkError as exc:
        raise _fail(f"attaching link {idx} to bridge {bridge}", exc, netns) from exc


def ensure_bridge(name: str, *, netns: str | None) -> None:
    with _ipr(netns) as ipr:
        idx = _create(ipr, netns, name, kind="bridge", br_stp_state=0, br_forward_delay=0)
        try:
            ipr.link("set", index=idx, state="up")
        except NetlinkError as exc:
            raise _fail(f"bringing bridge {name} up", exc, netns) from exc


def ensure_vxlan(
    name: str,
    *,
    netns: str | None,
    vni: int,
    bridge: str,
    local: str | None,
    underlay: str | None,
    peers: Sequence[str],
    port: int = 4789,
) -> None:
    """A VXLAN device for one segment; flooding goes to each peer (head-end replication)."""
    with _ipr(netns) as ipr:
        attrs: dict[str, Any] = {"kind": "vxlan", "vxlan_id": vni, "vxlan_port": port}
        if local:
            attrs["vxlan_local"] = local
        if underlay:
            dev = _index(ipr, underlay)
            if dev is None:
                raise DriverError(
                    f"underlay interface {underlay} does not exist",
                    hint="set network.vxlan_underlay to an interface of this node",
                )
            attrs["vxlan_link"] = dev
        idx = _create(ipr, netns, name, **attrs)
        _enslave(ipr, netns, idx, bridge, mtu=1500)
        for peer in peers:
            try:
                ipr.fdb("append", ifindex=idx, lladdr="00:00:00:00:00:00", dst=peer)
            except NetlinkError as exc:
                if exc.code != errno.EEXIST:
                    raise _fail(f"adding VXLAN peer {peer} to {name}", exc, netns) from exc


def ensure_vlan(name: str, *, netns: str | None, vid: int, bridge: str, uplink: str) -> None:
    with _ipr(netns) as ipr:
        dev = _index(ipr, uplink)
        if dev is None:
            raise DriverError(
                f"VLAN uplink {uplink} does not exist",
                hint="set network.vlan_uplink to this node's physical interface",
            )
        try:
            idx = _create(ipr, netns, name, kind="vlan", link=dev, vlan_id=vid)
        except DriverError as exc:
            raise DriverError(
                f"{exc.message} (the kernel needs CONFIG_VLAN_8021Q / the 8021q module)",
                hint="load 8021q, or use network.segment_kind = vxlan",
            ) from exc
        _enslave(ipr, netns, idx, bridge)


def ensure_tap(name: str, *, netns: str | None, bridge: str) -> None:
    with _ipr(netns) as ipr:
        idx = _create(ipr, netns, name, kind="tuntap", mode="tap")
        _enslave(ipr, netns, idx, bridge)


def ensure_veth(name: str, *, netns: str | None, bridge: str, peer_mac: str) -> str:
    """A veth pair: `name` on the bridge, `<name>p` left free (with `peer_mac`) for an endpoint
    namespace to take.  Returns the peer's name."""
    peer = f"{name}p"
    with _ipr(netns) as ipr:
        idx = _create(ipr, netns, name, kind="veth", peer=peer)
        _enslave(ipr, netns, idx, bridge)
        pidx = _index(ipr, peer)
        if pidx is not None:
            try:
                ipr.link("set", index=pidx, address=peer_mac)
            except NetlinkError as exc:
                raise _fail(f"setting MAC of {peer}", exc, netns) from exc
    return peer


def delete(name: str, *, netns: str | None) -> None:
    with _ipr(netns) as ipr:
        idx = _index(ipr, name)
        if idx is None:
            return
        try:
            ipr.link("del", index=idx)
        except NetlinkError as exc:
            if exc.code != errno.ENODEV:
                raise _fail(f"deleting link {name}", exc, netns) from exc


def ensure_address(name: str, address: str, prefixlen: int, *, netns: str | None) -> None:
    with _ipr(netns) as ipr:
        idx = _index(ipr, name)
        if idx is None:
            raise DriverError(f"link {name} does not exist; cannot add {address}/{prefixlen}")
        v6 = ":" in address
        try:
            if v6:
                ipr.addr("add", index=idx, address=address, prefixlen=prefixlen, flags=IFA_F_NODAD)
            else:
                ipr.addr("add", index=idx, address=address, prefixlen=prefixlen)
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise _fail(f"adding {address}/{prefixlen} to {name}", exc, netns) from exc


def addresses(name: str, *, netns: str | None) -> list[str]:
    """The IPv4 addresses of link `name`."""
    with _ipr(netns) as ipr:
        idx = _index(ipr, name)
        if idx is None:
            return []
        return sorted(str(a.get_attr("IFA_ADDRESS")) for a in ipr.get_addr(index=idx, family=2))


def ports(bridge: str, *, netns: str | None) -> list[str]:
    with _ipr(netns) as ipr:
        br = _index(ipr, bridge)
        if br is None:
            return []
        return sorted(
            str(link.get_attr("IFLA_IFNAME"))
            for link in ipr.get_links()
            if link.get_attr("IFLA_MASTER") == br
        )


def move_to_netns(
    name: str, *, netns: str | None, target: str, new_name: str | None = None
) -> None:
    """Hand a link (a veth peer) to another namespace, optionally renaming it there."""
    with _ipr(netns) as ipr:
        idx = _index(ipr, name)
        if idx is None:
            raise DriverError(f"link {name} does not exist; cannot move it to {target}")
        try:
            ipr.link("set", index=idx, net_ns_fd=target)
        except NetlinkError as exc:
            raise _fail(f"moving {name} to namespace {target}", exc, netns) from exc
    if new_name:
        with _ipr(target) as ipr:
            idx = _index(ipr, name)
            if idx is not None:
                ipr.link("set", index=idx, ifname=new_name)


def set_up(name: str, *, netns: str | None, mtu: int | None = None) -> None:
    with _ipr(netns) as ipr:
        idx = _index(ipr, name)
        if idx is None:
            raise DriverError(f"link {name} does not exist")
        extra = {"mtu": mtu} if mtu else {}
        ipr.link("set", index=idx, state="up", **extra)


def add_route(
    dst: str, *, gateway: str, dev: str | None = None, netns: str | None, metric: int | None = None
) -> None:
    """Route `dst` via `gateway`.  Without a metric the route replaces any other to `dst`; with
    one it is added beside routes of other metrics (other owners' routes stay)."""
    with _ipr(netns) as ipr:
        attrs: dict[str, Any] = {"dst": dst, "gateway": gateway}
        if dev:
            idx = _index(ipr, dev)
            if idx is not None:
                attrs["oif"] = idx
        if metric is not None:
            attrs["priority"] = metric
        try:
            ipr.route("replace", **attrs)
        except NetlinkError as exc:
            raise _fail(f"adding route to {dst} via {gateway}", exc, netns) from exc


def del_route(
    dst: str, *, netns: str | None, dev: str | None = None, metric: int | None = None
) -> None:
    """Delete the route to `dst`; with `dev`/`metric` only the one through that device and of
    that metric (the caller's own), never another owner's."""
    with _ipr(netns) as ipr:
        attrs: dict[str, Any] = {"dst": dst}
        if dev:
            idx = _index(ipr, dev)
            if idx is None:
                return  # our device is gone, and every route through it with it
            attrs["oif"] = idx
        if metric is not None:
            attrs["priority"] = metric
        try:
            ipr.route("del", **attrs)
        except NetlinkError as exc:
            if exc.code not in (errno.ESRCH, errno.ENOENT):
                raise _fail(f"deleting route to {dst}", exc, netns) from exc


def routes_to(dst: str, *, netns: str | None) -> list[tuple[str, int]]:
    """(device, metric) of every route to exactly `dst` (for tests and diagnostics)."""
    net, _, plen = dst.partition("/")
    family = 10 if ":" in net else 2
    with _ipr(netns) as ipr:
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        out = []
        for r in ipr.get_routes(family=family):
            if r.get_attr("RTA_DST") == net and str(r["dst_len"]) == plen:
                out.append((str(names.get(r.get_attr("RTA_OIF"), "")),
                            int(r.get_attr("RTA_PRIORITY") or 0)))  # fmt: skip
        return sorted(out)
