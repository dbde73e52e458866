"""Network definitions: validation, segment ids (given or taken from a pool), and the default
public/local/private classes built from settings tables.

Pure logic over a NetworkRepo; every refusal names the network and the way out.  Imports core
only (the settings object itself stays in bootstrap, which passes plain mappings in).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stratuslab.core.errors import Conflict, InvalidInput, NotFound
from stratuslab.core.network import (
    AddressClass,
    AddressRange,
    Ipv6Mode,
    Network,
    SegmentKind,
    mac_for,
    segment_limits,
)
from stratuslab.services.network.repository import NetworkRepo

#: The three StratusLab classes, used when settings define none.  Private-use addresses only,
#: so an all-in-one cloud never announces anything that could clash with a real network.  No
#: `dns` key: the data plane serves DHCP and RA, not DNS; sites add their resolvers.
DEFAULT_CLASSES: Mapping[str, Mapping[str, Any]] = {
    "public": {
        "subnet": "10.254.1.0/24",
        "ranges": ["10.254.1.10-10.254.1.250"],
        "gateway": "10.254.1.1",
        "ipv6_prefix": "fd53:7472:6174:1::/64",
        "ipv6_mode": "slaac",
    },
    "local": {
        "subnet": "10.254.2.0/24",
        "ranges": ["10.254.2.10-10.254.2.250"],
        "gateway": "10.254.2.1",
        "ipv6_prefix": "fd53:7472:6174:2::/64",
        "ipv6_mode": "slaac",
    },
    "private": {
        "subnet": "10.254.3.0/24",
        "ranges": ["10.254.3.10-10.254.3.250"],
        "gateway": "10.254.3.1",
        "ipv6_prefix": "fd53:7472:6174:3::/64",
        "ipv6_mode": "slaac",
    },
}

_KEYS = {
    "subnet", "ranges", "gateway", "dns", "ipv6_prefix", "ipv6_mode", "mac_prefix",
    "segment_id", "segment_kind", "address_class",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SegmentPool:
    """Segment ids handed out when a network is created without one ("dynamic VLANs")."""

    kind: SegmentKind = SegmentKind.VXLAN
    first: int = 100
    last: int = 4000

    @classmethod
    def parse(cls, kind: str, text: str) -> SegmentPool:
        try:
            seg_kind = SegmentKind(kind)
            a, _, b = text.partition("-")
            pool = cls(seg_kind, int(a), int(b or a))
        except ValueError:
            raise InvalidInput(
                f"segment pool {kind} {text!r} is not valid",
                hint="set network.segment_kind = vxlan|vlan, network.segment_pool = FIRST-LAST",
            ) from None
        lo, hi = segment_limits(seg_kind)
        if not lo <= pool.first <= pool.last <= hi:
            raise InvalidInput(
                f"segment pool {text} is outside the {kind} ids {lo}-{hi}",
                hint="pick a pool inside those limits",
            )
        return pool


def network_from_table(name: str, table: Mapping[str, Any], *, pool: SegmentPool) -> Network:
    """Build a Network from a settings table ([network.classes.<name>])."""
    unknown = set(table) - _KEYS
    if unknown:
        raise InvalidInput(
            f"network {name}: unknown key {sorted(unknown)[0]!r}",
            hint=f"known keys: {', '.join(sorted(_KEYS))}",
        )
    given = table.get("address_class")
    try:
        cls = AddressClass(given if given is not None else name)
    except ValueError:
        if given is not None:
            raise InvalidInput(
                f"network {name}: address_class {given!r} is not public, local or private"
            ) from None
        cls = AddressClass.PUBLIC  # an admin-defined network named otherwise
    try:
        return Network(
            name=name,
            subnet=str(table["subnet"]),
            ranges=tuple(
                AddressRange.parse(str(r)) for r in table.get("ranges", [table["subnet"]])
            ),
            address_class=cls,
            segment_kind=SegmentKind(table.get("segment_kind", pool.kind.value)),
            segment_id=table.get("segment_id"),
            gateway=table.get("gateway"),
            dns=tuple(table.get("dns", ())),
            mac_prefix=table.get("mac_prefix", "02:00"),
            ipv6_prefix=table.get("ipv6_prefix"),
            ipv6_mode=Ipv6Mode(
                table.get("ipv6_mode", "slaac" if table.get("ipv6_prefix") else "none")
            ),
        )
    except (KeyError, ValueError) as exc:
        raise InvalidInput(
            f"network {name}: {exc} is missing or not valid",
            hint="see the [network.classes.<name>] example in the README",
        ) from None


def validate(network: Network, others: Sequence[Network] = ()) -> None:
    """Refuse a definition that cannot work; `others` are the networks already defined."""
    name = network.name
    try:
        subnet = ipaddress.IPv4Network(network.subnet)
    except ValueError as exc:
        raise InvalidInput(
            f"network {name}: subnet {network.subnet!r} is not valid ({exc})",
            hint="write an IPv4 CIDR with host bits zero, e.g. 10.254.1.0/24",
        ) from None
    if not network.ranges:
        raise InvalidInput(f"network {name} has no address range", hint="add one: FIRST-LAST")
    for r in network.ranges:
        if r.first_int > r.last_int:
            raise InvalidInput(f"network {name}: range {r} ends before it starts")
        bounds = (int(subnet.network_address), int(subnet.broadcast_address))
        if not (bounds[0] < r.first_int and r.last_int < bounds[1]):
            raise InvalidInput(
                f"network {name}: range {r} is not inside the usable part of subnet {subnet}",
                hint="keep ranges between the network and the broadcast address",
            )
    _check_overlaps(network)
    if network.gateway is not None:
        gw = ipaddress.IPv4Address(network.gateway)
        if gw not in subnet or network.in_ranges(network.gateway):
            raise InvalidInput(
                f"network {name}: gateway {gw} must be in {subnet} and outside every range",
                hint="pick an address of the subnet that no range hands out",
            )
    mac_for(network.mac_prefix, str(subnet.network_address))  # validates the prefix
    _check_ipv6(network)
    _check_segment(network, others)


def _check_overlaps(network: Network) -> None:
    ranges = sorted(network.ranges, key=lambda r: r.first_int)
    for a, b in zip(ranges, ranges[1:], strict=False):
        if a.overlaps(b):
            raise InvalidInput(
                f"network {network.name}: range {a} overlaps range {b}",
                hint="ranges of one network must not share addresses; shorten or merge them",
            )


def _check_ipv6(network: Network) -> None:
    if network.ipv6_prefix is None:
        if network.ipv6_mode is not Ipv6Mode.NONE:
            raise InvalidInput(
                f"network {network.name}: ipv6_mode {network.ipv6_mode} needs an ipv6_prefix",
                hint="give a /64 prefix such as fd53:7472:6174:1::/64, or ipv6_mode none",
            )
        return
    try:
        prefix = ipaddress.IPv6Network(network.ipv6_prefix)
    except ValueError as exc:
        raise InvalidInput(
            f"network {network.name}: IPv6 prefix {network.ipv6_prefix!r} is not valid ({exc})"
        ) from None
    if prefix.prefixlen != 64:
        raise InvalidInput(
            f"network {network.name}: IPv6 prefix {prefix} is a /{prefix.prefixlen}",
            hint="SLAAC and the static scheme need a /64",
        )


def _check_segment(network: Network, others: Sequence[Network]) -> None:
    seg = network.segment_id
    if seg is None:
        return
    lo, hi = segment_limits(network.segment_kind)
    if not lo <= seg <= hi:
        raise InvalidInput(
            f"network {network.name}: {network.segment_kind} segment id {seg} is out of range",
            hint=f"a {network.segment_kind} id goes from {lo} to {hi}; or omit it to get one "
            "from the pool",
        )
    for other in others:
        if (
            other.name != network.name
            and other.segment_kind is network.segment_kind
            and other.segment_id == seg
        ):
            raise Conflict(
                f"network {network.name}: {network.segment_kind} segment {seg} is already used "
                f"by network {other.name}",
                hint="pick another id, or omit it to get a free one from the pool",
            )


def allocate_segment(repo: NetworkRepo, network: Network, pool: SegmentPool) -> Network:
    """Give `network` a free segment id from `pool` when it has none."""
    if network.segment_id is not None:
        return network
    if network.segment_kind is not pool.kind:
        raise InvalidInput(
            f"network {network.name} wants a {network.segment_kind} segment but the pool "
            f"holds {pool.kind} ids",
            hint="give a segment id explicitly",
        )
    used = repo.used_segments(pool.kind)
    for seg in range(pool.first, pool.last + 1):
        if seg not in used:
            return dataclasses.replace(network, segment_id=seg)
    raise Conflict(
        f"network {network.name}: every {pool.kind} id of the pool "
        f"{pool.first}-{pool.last} is in use",
        hint="delete an unused network or widen network.segment_pool",
    )


NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


def check_name(name: str) -> None:
    """Network names become directory and interface-related names on nodes: plain words only."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidInput(
            f"network name {name!r} is not valid",
            hint="start with a letter; then letters, digits, '-' or '_' (at most 64)",
        )


def create_network(repo: NetworkRepo, network: Network, pool: SegmentPool) -> Network:
    """Validate, allocate a segment when needed, and store.  Call inside a unit of work."""
    check_name(network.name)
    if repo.get_network(network.name) is not None:
        raise Conflict(
            f"network {network.name} already exists",
            hint="choose another name, or look at it: stratus network show " + network.name,
        )
    network = allocate_segment(repo, network, pool)
    validate(network, repo.list_networks())
    return repo.add_network(network)


def get_network(repo: NetworkRepo, name: str) -> Network:
    network = repo.get_network(name)
    if network is None:
        raise NotFound("network", name, listing="stratus network list")
    return network


def add_range(repo: NetworkRepo, name: str, new: AddressRange) -> Network:
    """Add an address range live; refused when it overlaps an existing one."""
    network = get_network(repo, name)
    changed = dataclasses.replace(network, ranges=(*network.ranges, new))
    validate(changed, repo.list_networks())
    repo.update_network(changed)
    return changed


def ensure_default_networks(
    repo: NetworkRepo, classes: Mapping[str, Mapping[str, Any]], pool: SegmentPool
) -> list[Network]:
    """Create the configured classes that do not exist yet (at server start)."""
    made = []
    for name, table in (classes or DEFAULT_CLASSES).items():
        if repo.get_network(name) is None:
            made.append(create_network(repo, network_from_table(name, table, pool=pool), pool))
    return made
