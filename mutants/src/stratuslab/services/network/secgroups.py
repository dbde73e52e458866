"""Security groups: validation, and the rules a NIC gets (its groups, the default group and the
image's declared inbound ports), with `remote_group` references resolved to member addresses
because drivers only understand CIDRs.  Imports core only.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable, Iterable, Sequence

from stratuslab.core.errors import InvalidInput
from stratuslab.core.network import (
    DEFAULT_SECURITY_GROUP,
    Direction,
    IpProtocol,
    Rule,
    SecurityGroup,
    default_rules,
)

#: `members(owner, group_name)` -> the IPv4/IPv6 addresses of the NICs in that group.
MemberLookup = Callable[[str, str], Iterable[str]]


def validate_group(group: SecurityGroup) -> None:
    if not group.name or not group.name.replace("-", "").replace("_", "").isalnum():
        raise InvalidInput(
            f"security group name {group.name!r} is not valid",
            hint="use letters, digits, - and _",
        )
    for rule in group.rules:
        if rule.remote_cidr is not None:
            try:
                ipaddress.ip_network(rule.remote_cidr, strict=False)
            except ValueError:
                raise InvalidInput(
                    f"security group {group.name}: remote {rule.remote_cidr!r} is not a CIDR",
                    hint="write e.g. 10.0.0.0/8 or 2001:db8::/32",
                ) from None


def parse_rule(text: str) -> Rule:
    """'inbound tcp 80', 'inbound tcp 8000-8080 10.0.0.0/8', 'outbound all', 'inbound icmp
    group:web' -> Rule (the CLI and REST accept this short form)."""
    parts = text.split()
    try:
        direction = Direction(parts[0])
        protocol = IpProtocol(parts[1]) if len(parts) > 1 else IpProtocol.ALL
    except (IndexError, ValueError):
        raise InvalidInput(
            f"rule {text!r} is not valid",
            hint="write DIRECTION PROTOCOL [PORT[-PORT]] [CIDR|group:NAME], "
            "e.g. 'inbound tcp 80 0.0.0.0/0'",
        ) from None
    rest = parts[2:]
    lo = hi = None
    if rest and rest[0][0].isdigit() and "/" not in rest[0] and "." not in rest[0]:
        a, _, b = rest.pop(0).partition("-")
        lo, hi = int(a), int(b or a)
    cidr = group = None
    if rest:
        target = rest.pop(0)
        if target.startswith("group:"):
            group = target.removeprefix("group:")
        else:
            cidr = target
    return Rule(direction, protocol, lo, hi, remote_cidr=cidr, remote_group=group)


def rules_for_nic(
    owner: str,
    groups: Sequence[SecurityGroup],
    *,
    members: MemberLookup,
    inbound_ports: Sequence[int] = (),
) -> tuple[Rule, ...]:
    """Rules a NIC gets.  No group: the default firewall (SSH and ICMP in, all out) opened
    further by the image's declared inbound ports.  With groups: their rules plus the image's
    ports, and all outbound traffic when no group says anything about outbound."""
    if not groups or all(g.name == DEFAULT_SECURITY_GROUP and not g.rules for g in groups):
        rules: list[Rule] = list(default_rules(inbound_ports))
    else:
        rules = [r for g in groups for r in g.rules]
        rules += [Rule(Direction.INBOUND, IpProtocol.TCP, p, p) for p in sorted(set(inbound_ports))]
        if not any(r.direction is Direction.OUTBOUND for r in rules):
            rules.append(Rule(Direction.OUTBOUND))  # groups restrict inbound unless they say more
    return tuple(_resolve(owner, rules, members))


def _resolve(owner: str, rules: Iterable[Rule], members: MemberLookup) -> Iterable[Rule]:
    for rule in rules:
        if rule.remote_group is None:
            yield rule
            continue
        for addr in sorted(set(members(owner, rule.remote_group))):
            bits = 32 if ipaddress.ip_address(addr).version == 4 else 128
            yield dataclasses.replace(rule, remote_group=None, remote_cidr=f"{addr}/{bits}")
