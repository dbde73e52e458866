"""Virtual networks: address classes, ranges, leases, holds, reservations, security groups, and
the port network drivers implement.

Pure value objects and the small address arithmetic every layer shares (MAC from prefix + IPv4,
EUI-64 IPv6 from a MAC, segment id limits).  Allocation policy lives in services/network; kernel
objects live in drivers/network.  Only the standard library: must not import services, drivers,
persistence or any third-party package.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from stratuslab.core.errors import InvalidInput
from stratuslab.core.hypervisor import NicSpec

VLAN_MIN, VLAN_MAX = 1, 4094
VNI_MIN, VNI_MAX = 1, 16_777_215
DEFAULT_MAC_PREFIX = "02:00"  # locally administered, as OpenNebula


class AddressClass(StrEnum):
    PUBLIC = "public"  # reachable from outside the cloud (StratusLab's default)
    LOCAL = "local"  # reachable inside the cloud/site only
    PRIVATE = "private"  # confined to the host running the VM; outbound only
    TENANT = "tenant"  # a user's own segment: reaches nothing else except through its router


class SegmentKind(StrEnum):
    VXLAN = "vxlan"  # segment id is the VNI
    VLAN = "vlan"  # segment id is the 802.1Q tag


class Ipv6Mode(StrEnum):
    NONE = "none"
    SLAAC = "slaac"  # address = prefix + EUI-64 of the MAC, announced by router advertisements
    STATIC = "static"  # address = prefix + the IPv4 host number, handed out by DHCPv6 / context


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class IpProtocol(StrEnum):
    ALL = "all"
    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"
    ICMPV6 = "icmpv6"


def segment_limits(kind: SegmentKind) -> tuple[int, int]:
    return (VLAN_MIN, VLAN_MAX) if kind is SegmentKind.VLAN else (VNI_MIN, VNI_MAX)


@dataclass(frozen=True, slots=True)
class AddressRange:
    """An inclusive IPv4 range [first, last] inside a network's subnet."""

    first: str
    last: str

    @property
    def first_int(self) -> int:
        return int(ipaddress.IPv4Address(self.first))

    @property
    def last_int(self) -> int:
        return int(ipaddress.IPv4Address(self.last))

    @property
    def size(self) -> int:
        return self.last_int - self.first_int + 1

    def contains(self, ip: str) -> bool:
        return self.first_int <= int(ipaddress.IPv4Address(ip)) <= self.last_int

    def overlaps(self, other: AddressRange) -> bool:
        return self.first_int <= other.last_int and other.first_int <= self.last_int

    def addresses(self) -> list[str]:
        return [str(ipaddress.IPv4Address(i)) for i in range(self.first_int, self.last_int + 1)]

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"

    @classmethod
    def parse(cls, text: str) -> AddressRange:
        """'10.0.0.10-10.0.0.50', or a CIDR whose usable hosts form the range."""
        try:
            if "-" in text:
                a, b = (p.strip() for p in text.split("-", 1))
                ipaddress.IPv4Address(a), ipaddress.IPv4Address(b)
                return cls(a, b)
            net = ipaddress.IPv4Network(text.strip(), strict=False)
        except ValueError as exc:
            raise InvalidInput(
                f"address range {text!r} is not valid: {exc}",
                hint="write FIRST-LAST (10.0.0.10-10.0.0.50) or a CIDR (10.0.0.0/24)",
            ) from None
        hosts = list(net.hosts()) if net.prefixlen < 31 else list(net)
        return cls(str(hosts[0]), str(hosts[-1]))


@dataclass(frozen=True, slots=True)
class FloatingIp:
    """A public address of the router's external network that maps to a private address."""

    ip: str
    private_ip: str
    reservation_id: int | None = None


@dataclass(frozen=True, slots=True)
class Router:
    """A tenant network's way out: NAT to `external` through `ip`, plus floating addresses."""

    external: Network
    ip: str
    reservation_id: int | None = None
    floating: tuple[FloatingIp, ...] = ()


@dataclass(frozen=True, slots=True)
class Network:
    name: str
    subnet: str  # IPv4 CIDR of the segment, e.g. 10.254.1.0/24
    ranges: tuple[AddressRange, ...]
    address_class: AddressClass = AddressClass.PUBLIC
    segment_kind: SegmentKind = SegmentKind.VXLAN
    segment_id: int | None = None  # None until allocated from the pool
    gateway: str | None = None
    dns: tuple[str, ...] = ()
    mac_prefix: str = DEFAULT_MAC_PREFIX
    ipv6_prefix: str | None = None  # a /64, e.g. fd53:7472:6174:1::/64
    ipv6_mode: Ipv6Mode = Ipv6Mode.NONE
    owner: str = "oneadmin"
    id: int | None = None
    enabled: bool = True  # False = "down": the network gives no new leases (existing ones stay)
    group: str | None = None  # the group its group rights apply to
    permissions: str = "um-u--u--"  # owner/group/other rights (services.policy.Permissions)
    router: Router | None = None  # tenant networks only
    template: str | None = None  # OpenNebula TEMPLATE text as given (BRIDGE...), if any

    @property
    def size(self) -> int:
        return sum(r.size for r in self.ranges)

    @property
    def prefixlen(self) -> int:
        return ipaddress.IPv4Network(self.subnet).prefixlen

    @property
    def netmask(self) -> str:
        return str(ipaddress.IPv4Network(self.subnet).netmask)

    def in_ranges(self, ip: str) -> bool:
        return any(r.contains(ip) for r in self.ranges)


@dataclass(frozen=True, slots=True)
class Lease:
    """One address of a network given to a VM NIC, or kept by a user reservation."""

    network: str
    ip: str
    mac: str
    ipv6: str | None = None
    vm_id: int | None = None
    nic_index: int = 0
    reservation_id: int | None = None
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    """An address an administrator keeps out of the pool (OpenNebula `onevnet hold`)."""

    network: str
    ip: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Reservation:
    """N addresses a user keeps for later VMs; its leases count against the user's lease quota."""

    id: int | None
    network: str
    owner: str
    size: int
    name: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    direction: Direction
    protocol: IpProtocol = IpProtocol.ALL
    port_min: int | None = None  # None: every port (and for icmp: every type)
    port_max: int | None = None
    remote_cidr: str | None = None  # None and no group: anywhere
    remote_group: str | None = None  # members' addresses, resolved by the service

    def __post_init__(self) -> None:
        if self.remote_cidr and self.remote_group:
            raise InvalidInput(
                "a security group rule names both a remote CIDR and a remote group",
                hint="give one of them",
            )
        lo, hi = self.port_min, self.port_max
        if lo is None and hi is None:
            return
        if self.protocol not in (IpProtocol.TCP, IpProtocol.UDP):
            raise InvalidInput(
                f"a {self.protocol} rule cannot have a port range", hint="use tcp or udp"
            )
        lo = hi if lo is None else lo
        hi = lo if hi is None else hi
        if lo is None or hi is None or not 1 <= lo <= hi <= 65535:
            raise InvalidInput(
                f"port range {self.port_min}-{self.port_max} is not valid",
                hint="ports go from 1 to 65535, low before high",
            )

    @property
    def ports(self) -> tuple[int, int] | None:
        if self.port_min is None and self.port_max is None:
            return None
        lo = self.port_min if self.port_min is not None else self.port_max
        hi = self.port_max if self.port_max is not None else self.port_min
        assert lo is not None and hi is not None
        return (lo, hi)


@dataclass(frozen=True, slots=True)
class SecurityGroup:
    name: str
    owner: str
    rules: tuple[Rule, ...] = ()
    description: str = ""
    id: int | None = None


def default_rules(inbound_ports: Sequence[int] = ()) -> tuple[Rule, ...]:
    """Inbound denied except SSH, ICMP and the ports an image declares; outbound allowed."""
    rules = [
        Rule(Direction.INBOUND, IpProtocol.TCP, 22, 22),
        Rule(Direction.INBOUND, IpProtocol.ICMP),
        Rule(Direction.INBOUND, IpProtocol.ICMPV6),
        Rule(Direction.OUTBOUND, IpProtocol.ALL),
    ]
    rules += [
        Rule(Direction.INBOUND, IpProtocol.TCP, p, p) for p in sorted(set(inbound_ports)) if p != 22
    ]
    return tuple(rules)


DEFAULT_SECURITY_GROUP = "default"


# --- address arithmetic --------------------------------------------------------------------


def mac_for(prefix: str, ip: str) -> str:
    """OpenNebula's rule: MAC = 2-byte prefix + the 4 bytes of the IPv4 address."""
    parts = prefix.lower().split(":")
    if len(parts) != 2 or not all(len(p) == 2 and _is_hex(p) for p in parts):
        raise InvalidInput(
            f"MAC prefix {prefix!r} is not two hex bytes", hint="write it like 02:00"
        )
    if int(parts[0], 16) & 1:
        raise InvalidInput(f"MAC prefix {prefix} is a multicast address", hint="use e.g. 02:00")
    octets = ipaddress.IPv4Address(ip).packed
    return ":".join(parts + [f"{b:02x}" for b in octets])


def eui64(prefix: str, mac: str) -> str:
    """SLAAC address: the /64 prefix + the modified EUI-64 interface id of `mac`."""
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 0x02
    iid = bytes(b[:3] + [0xFF, 0xFE] + b[3:])
    net = ipaddress.IPv6Network(prefix, strict=False)
    return str(net.network_address + int.from_bytes(iid, "big"))


def link_local(mac: str) -> str:
    return eui64("fe80::/64", mac)


def static_ipv6(prefix: str, subnet: str, ip: str) -> str:
    """Static IPv6: the prefix + the IPv4 host number (10.0.0.7 in a /24 -> prefix::7)."""
    host = int(ipaddress.IPv4Address(ip)) - int(ipaddress.IPv4Network(subnet).network_address)
    return str(ipaddress.IPv6Network(prefix, strict=False).network_address + host)


def ipv6_for(network: Network, ip: str, mac: str) -> str | None:
    if network.ipv6_prefix is None or network.ipv6_mode is Ipv6Mode.NONE:
        return None
    if network.ipv6_mode is Ipv6Mode.SLAAC:
        return eui64(network.ipv6_prefix, mac)
    return static_ipv6(network.ipv6_prefix, network.subnet, ip)


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True


# --- the driver port -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NetworkDriverCaps:
    real_data_plane: bool = True  # False for the simulated driver
    segment_kinds: tuple[SegmentKind, ...] = (SegmentKind.VXLAN,)
    live_rules: bool = True


@dataclass(frozen=True, slots=True)
class SegmentStatus:
    network: str
    present: bool
    nics: tuple[str, ...] = field(default_factory=tuple)  # tap names on the segment


class NetworkDriverPort(Protocol):
    """What services need from a node's network driver (drivers/network/* implement it).

    Every call is idempotent: ensuring an existing segment, plugging a plugged NIC or unplugging
    a missing one succeed.  Backend names (bridges, VXLAN devices, nft chains) never leave the
    driver except the tap name inside the returned NicSpec, which the hypervisor opens.
    """

    @property
    def name(self) -> str:
        """The driver's registered name (a class attribute of the driver)."""
        ...

    @property
    def capabilities(self) -> NetworkDriverCaps: ...

    def ensure_segment(self, network: Network) -> None: ...
    def remove_segment(self, network: Network) -> None: ...
    def plug_nic(
        self, vm_id: int, nic_index: int, network: Network, lease: Lease, rules: Sequence[Rule]
    ) -> NicSpec: ...
    def unplug_nic(self, vm_id: int, nic_index: int, network: Network, lease: Lease) -> None: ...
    def apply_rules(self, nic: NicSpec, rules: Sequence[Rule]) -> None:
        """Replace the NIC's security-group rules live (anti-spoofing stays)."""
        ...

    def add_dhcp_host(self, network: Network, lease: Lease) -> None: ...
    def remove_dhcp_host(self, network: Network, lease: Lease) -> None: ...
    def segment_status(self, network: Network) -> SegmentStatus: ...
    def close(self) -> None:
        """Stop helper processes (dnsmasq); kernel objects stay for the next start."""
        ...
