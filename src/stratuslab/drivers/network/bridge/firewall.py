"""Per-NIC anti-spoofing and security-group rules as one nftables table in the bridge family.

Layout (one table per data plane, every change one atomic `nft -f` transaction):
  map from_vm / to_vm: ifname -> jump <per-NIC chain>
  base chains forward/input/output dispatch frames from a NIC to `from_<tap>` and frames to a
  NIC to `to_<tap>`.
`from_<tap>` drops anything not sent with the NIC's own MAC/IPv4/IPv6 (DHCP discovery and IPv6
DAD excepted) and any DHCP/RA a guest would serve, then applies outbound rules and *returns*
(never accepts: an accept there would skip the destination's inbound chain).  `to_<tap>`
accepts ARP, neighbour discovery, DHCP replies, the inbound rules, and (this family has no
conntrack, so rules are stateless) replies to traffic the outbound rules allow: TCP segments
that are not a bare SYN, UDP to ephemeral ports, ICMP errors and echo replies.  The rendering is
pure; `apply()` is the only function that runs nft.  Imports core and drivers._process only.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from stratuslab.core.errors import InvalidInput
from stratuslab.core.network import Direction, IpProtocol, Rule, link_local
from stratuslab.drivers import _process

TABLE = "stratuslab"
EPHEMERAL = "32768-65535"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")


_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


@dataclass(frozen=True, slots=True)
class NicAddresses:
    """A NIC's addresses, checked and written canonically: whatever reaches an nft script is
    an address `ipaddress` parsed (no IPv6 scope id: Python accepts any text after `%`)."""

    tap: str
    mac: str
    ip: str
    ipv6: str | None = None

    def __post_init__(self) -> None:
        _check_name(self.tap)
        if not _MAC.match(self.mac.lower()):
            raise InvalidInput(f"NIC {self.tap}: MAC {self.mac!r} is not a MAC address")
        object.__setattr__(self, "mac", self.mac.lower())
        object.__setattr__(self, "ip", address(self.ip, f"IPv4 address of NIC {self.tap}", 4))
        if self.ipv6 is not None:
            object.__setattr__(
                self, "ipv6", address(self.ipv6, f"IPv6 address of NIC {self.tap}", 6))


def address(text: str, what: str, version: int | None = None) -> str:
    """`text` as a canonical address; InvalidInput for anything else (scope ids included)."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidInput(f"{what}: {text!r} is not an IP address") from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id is not None:
        raise InvalidInput(f"{what}: {text!r} carries an IPv6 scope id; give the bare address")
    if version is not None and ip.version != version:
        raise InvalidInput(f"{what}: {text!r} is not an IPv{version} address")
    return str(ip)


def network(text: str, what: str) -> str:
    """`text` as a canonical network (host bits cleared); InvalidInput for anything else."""
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidInput(f"{what}: {text!r} is not an IP network (CIDR)") from None
    return str(net)


def base_script() -> str:
    """Table, maps and base chains; safe to load again.

    The base chains are deleted and re-created on every load: on this kernel (6.18) a bridge
    family `forward` chain registered while no bridge exists in the namespace never sees
    forwarded frames, even on bridges made later, while one registered after a bridge exists
    does (and keeps working after every bridge is gone).  The driver loads this script right
    after it creates a segment's bridge.
    """
    t = f"bridge {TABLE}"
    hooks = {"forward": "forward", "input": "input", "output": "output"}
    lines = [
        f"add table {t}",
        f"add map {t} from_vm {{ type ifname : verdict; }}",
        f"add map {t} to_vm {{ type ifname : verdict; }}",
    ]
    for chain, hook in hooks.items():
        spec = f"{{ type filter hook {hook} priority 0; policy accept; }}"
        lines += [f"add chain {t} {chain} {spec}", f"flush chain {t} {chain}"]
        lines += [f"delete chain {t} {chain}", f"add chain {t} {chain} {spec}"]
    lines += [
        f"add rule {t} forward iifname vmap @from_vm",
        f"add rule {t} forward oifname vmap @to_vm",
        f"add rule {t} input iifname vmap @from_vm",
        f"add rule {t} output oifname vmap @to_vm",
        "",
    ]
    return "\n".join(lines)


def nic_script(nic: NicAddresses, rules: Sequence[Rule]) -> str:
    """Replace the NIC's two chains and hook them into the maps, in one transaction."""
    _check_name(nic.tap)
    t = f"bridge {TABLE}"
    out, inn = f"from_{nic.tap}", f"to_{nic.tap}"
    lines = [f"add chain {t} {out}", f"add chain {t} {inn}", f"flush chain {t} {out}"]
    lines.append(f"flush chain {t} {inn}")
    lines += [f"add rule {t} {out} {r}" for r in egress_rules(nic, rules)]
    lines += [f"add rule {t} {inn} {r}" for r in ingress_rules(rules)]
    lines.append(f'add element {t} from_vm {{ "{nic.tap}" : jump {out} }}')
    lines.append(f'add element {t} to_vm {{ "{nic.tap}" : jump {inn} }}')
    return "\n".join(lines) + "\n"


def remove_nic_script(tap: str) -> str:
    """Unhook and delete the NIC's chains; works whether or not they exist."""
    _check_name(tap)
    t = f"bridge {TABLE}"
    out, inn = f"from_{tap}", f"to_{tap}"
    return "\n".join(
        [
            f"add chain {t} {out}",
            f"add chain {t} {inn}",
            f'add element {t} from_vm {{ "{tap}" : jump {out} }}',
            f'add element {t} to_vm {{ "{tap}" : jump {inn} }}',
            f'delete element {t} from_vm {{ "{tap}" }}',
            f'delete element {t} to_vm {{ "{tap}" }}',
            f"delete chain {t} {out}",
            f"delete chain {t} {inn}",
            "",
        ]
    )


def egress_rules(nic: NicAddresses, rules: Sequence[Rule]) -> list[str]:
    v6 = ["::", link_local(nic.mac)] + ([nic.ipv6] if nic.ipv6 else [])
    lines = [
        "ether type != { ip, ip6, arp } counter drop",
        f"ether saddr != {nic.mac} counter drop",
        f"arp saddr ether != {nic.mac} counter drop",
        f"arp saddr ip != {{ {nic.ip}, 0.0.0.0 }} counter drop",
        "ip saddr 0.0.0.0 udp sport 68 udp dport 67 return",
        f"ip saddr != {nic.ip} counter drop",
        f"ip6 saddr != {{ {', '.join(v6)} }} counter drop",
        "udp sport { 67, 547 } counter drop",
        "icmpv6 type { nd-router-advert, nd-redirect } counter drop",
        "meta protocol arp return",
        "udp dport { 67, 547 } return",
        "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } return",
    ]
    for rule in rules:
        if rule.direction is Direction.OUTBOUND:
            lines += [f"{m} return".strip() for m in _matches(rule, outbound=True)]
        else:  # stateless: let the replies of an allowed inbound service out
            lines += [f"{m} return" for m in _reply_matches(rule)]
    lines.append("counter drop")
    return lines


def ingress_rules(rules: Sequence[Rule]) -> list[str]:
    lines = [
        "meta protocol arp accept",
        "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept",
        "udp sport 67 udp dport 68 accept",
        "udp sport 547 udp dport 546 accept",
    ]
    for rule in rules:
        if rule.direction is Direction.INBOUND:
            lines += [f"{m} accept".strip() for m in _matches(rule, outbound=False)]
    outbound = [r for r in rules if r.direction is Direction.OUTBOUND]
    protos = {r.protocol for r in outbound}
    if protos & {IpProtocol.ALL, IpProtocol.TCP}:
        lines.append("tcp flags & (syn | ack) != syn accept")
    if protos & {IpProtocol.ALL, IpProtocol.UDP}:
        lines.append(f"udp dport {EPHEMERAL} accept")
    if outbound:
        lines.append(
            "icmp type { echo-reply, destination-unreachable, time-exceeded, parameter-problem }"
            " accept"
        )
        lines.append(
            "icmpv6 type { echo-reply, destination-unreachable, packet-too-big, time-exceeded,"
            " parameter-problem } accept"
        )
    lines.append("counter drop")
    return lines


def _matches(rule: Rule, *, outbound: bool) -> list[str]:
    """nft match expressions for a rule (one per address family when it has a remote)."""
    if rule.remote_group is not None:
        raise InvalidInput(
            f"rule with remote group {rule.remote_group} reached the driver unresolved",
            hint="resolve groups with services.network.rules_for_nic first",
        )
    proto = _proto(rule)
    if rule.remote_cidr is None:
        return [proto]
    cidr = network(rule.remote_cidr, "security group rule remote")
    fam = "ip6" if ":" in cidr else "ip"
    if rule.protocol is IpProtocol.ICMP and fam == "ip6":
        return []
    if rule.protocol is IpProtocol.ICMPV6 and fam == "ip":
        return []
    side = "daddr" if outbound else "saddr"
    return [f"{fam} {side} {cidr} {proto}".strip()]


def _proto(rule: Rule) -> str:
    ports = rule.ports
    span = (
        ""
        if ports is None
        else (f"{ports[0]}" if ports[0] == ports[1] else f"{ports[0]}-{ports[1]}")
    )
    if rule.protocol in (IpProtocol.TCP, IpProtocol.UDP):
        return f"{rule.protocol} dport {span}" if span else f"meta l4proto {rule.protocol}"
    if rule.protocol is IpProtocol.ICMP:
        return "meta l4proto icmp"
    if rule.protocol is IpProtocol.ICMPV6:
        return "meta l4proto ipv6-icmp"
    return ""


def _reply_matches(rule: Rule) -> list[str]:
    if rule.protocol not in (IpProtocol.TCP, IpProtocol.UDP):
        return [m.replace("saddr", "daddr") for m in _matches(rule, outbound=False)]
    ports = rule.ports
    sport = "" if ports is None else f" sport {ports[0]}-{ports[1]}"
    base = f"{rule.protocol}{sport}" if sport else f"meta l4proto {rule.protocol}"
    if rule.remote_cidr is None:
        return [base]
    cidr = network(rule.remote_cidr, "security group rule remote")
    fam = "ip6" if ":" in cidr else "ip"
    return [f"{fam} daddr {cidr} {base}"]


def _check_name(tap: str) -> None:
    if not _NAME.match(tap):
        raise InvalidInput(f"interface name {tap!r} is not valid for a firewall chain")


ROUTE_TABLE = "stratuslab-route"


def routing_script(private_bridges: Sequence[str]) -> str:
    """Routed (not bridged) traffic between this node's networks: nothing may start a connection
    into a `private` network's bridge; its guests' own connections get their replies (this is
    the inet family, where conntrack exists)."""
    for name in private_bridges:
        _check_name(name)
    t = f"inet {ROUTE_TABLE}"
    lines = [
        f"add table {t}",
        f"add set {t} private {{ type ifname; }}",
        f"add chain {t} forward {{ type filter hook forward priority 0; policy accept; }}",
        f"flush chain {t} forward",
        f"flush set {t} private",
    ]
    # with br_netfilter loaded, frames bridged *within* a bridge come through this hook too,
    # in and out on the bridge itself: they are not routed, so they pass (whatever the sysctl)
    lines += [f'add rule {t} forward iifname "{n}" oifname "{n}" accept'
              for n in sorted(private_bridges)]
    lines += [
        f"add rule {t} forward oifname @private ct state established,related accept",
        f"add rule {t} forward oifname @private counter drop",
    ]
    if private_bridges:
        names = ", ".join(f'"{n}"' for n in sorted(private_bridges))
        lines.append(f"add element {t} private {{ {names} }}")
    return "\n".join(lines) + "\n"


def apply(script: str, *, netns: str | None, timeout: float = 15.0) -> None:
    """Load `script` atomically (all or nothing) with `nft -f -`."""
    argv = ["nft", "-f", "-"]
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    _process.run(argv, input_text=script, timeout=timeout)


def counters(tap: str, *, netns: str | None) -> dict[str, int]:
    """Packets dropped so far by the NIC's chains: {'from': n, 'to': m} (for tests, metrics)."""
    result = {}
    for key, chain in (("from", f"from_{tap}"), ("to", f"to_{tap}")):
        argv = ["nft", "list", "chain", "bridge", TABLE, chain]
        if netns:
            argv = ["ip", "netns", "exec", netns, *argv]
        text = _process.run(argv, timeout=10, check=False).stdout
        result[key] = sum(
            int(m.group(1)) for m in re.finditer(r"counter packets (\d+) bytes \d+ drop", text)
        )
    return result


def delete_table(*, netns: str | None) -> None:
    argv = ["nft", "delete", "table", "bridge", TABLE]
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    _process.run(argv, timeout=10, check=False)
