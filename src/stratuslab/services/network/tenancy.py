"""Self-service networks: who may use, change and create which network.

Every network carries OpenNebula-style owner/group/other rights (services.policy.Permissions).
Admin-defined networks (public, local, private and any an admin creates) keep "um-u--u--":
everyone may use them, only administrators change them.  A user's own network is of class
`tenant`: its own segment from the pool, its own bridge and DHCP/RA, rights "um-------" until
its owner shares it (chmod/chgrp); using it (a NIC, a reservation) needs the USE right, and a
network the caller may not use answers NotFound, so its existence does not leak.
Imports core and services only.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from stratuslab.core.entities import Principal
from stratuslab.core.errors import Forbidden, InvalidInput, NotFound, QuotaExceeded
from stratuslab.core.network import AddressClass, AddressRange, Network
from stratuslab.services.network.definitions import SegmentPool, network_from_table
from stratuslab.services.policy import authorize
from stratuslab.services.policy import checked_permissions as policy_permissions

LISTING = "stratus network list"
TENANT_PERMISSIONS = "um-------"
#: what a user may set on a network of their own; the segment, MAC prefix and class are the
#: cloud's (from the admin-defined pool), never the user's
USER_KEYS = frozenset({"subnet", "ranges", "gateway", "dns", "ipv6_prefix", "ipv6_mode"})
PRIVATE_USE = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12",
                                                        "192.168.0.0/16"))  # fmt: skip


def is_tenant(network: Network) -> bool:
    return network.address_class is AddressClass.TENANT


def require(principal: Principal, network: Network, action: str) -> None:
    """NotFound without USE, Forbidden without the right `action` needs (policy.authorize)."""
    authorize(principal, action, network.owner, network.group, network.permissions,
              what="network", ident=network.name, listing=LISTING)  # fmt: skip


def may_use(principal: Principal, network: Network) -> bool:
    try:
        require(principal, network, "use")
    except (NotFound, Forbidden):
        return False
    return True


def tenant_network(
    principal: Principal, name: str, table: Mapping[str, Any], *, pool: SegmentPool,
    others: Sequence[Network], quota: int,
) -> Network:  # fmt: skip
    """A user's network from a request, checked against the user's quota and the cloud's
    address plan (private-use space, no overlap with an admin network)."""
    refused = sorted(k for k, v in table.items() if k not in USER_KEYS and v is not None)
    if refused:
        raise Forbidden(
            f"network {name}: {refused[0]} is set by the cloud for user networks",
            hint=f"leave it out; users give {', '.join(sorted(USER_KEYS))}",
        )
    owned = [n for n in others if n.owner == principal.user and is_tenant(n)]
    if len(owned) >= quota:
        raise QuotaExceeded(
            f"user {principal.user} owns {len(owned)} networks; the quota is {quota}",
            hint="delete one first: stratus network delete NAME"
            if quota else "ask an administrator (network.user_max_networks)",
        )
    subnet = _subnet(name, table.get("subnet"))
    clash = [n.name for n in others if not is_tenant(n)
             and subnet.overlaps(ipaddress.IPv4Network(n.subnet))]  # fmt: skip
    if clash:
        raise InvalidInput(
            f"network {name}: subnet {subnet} overlaps the cloud's network {clash[0]}",
            hint="pick another private-use subnet, e.g. 192.168.10.0/24",
        )
    filled = {k: v for k, v in table.items() if v is not None}
    filled.update(_gateway_and_ranges(subnet, filled), address_class=AddressClass.TENANT.value)
    network = network_from_table(name, filled, pool=pool)
    return dataclasses.replace(
        network, owner=principal.user, group=principal.groups[0] if principal.groups else None,
        permissions=TENANT_PERMISSIONS,
    )  # fmt: skip


def _gateway_and_ranges(subnet: ipaddress.IPv4Network, table: Mapping[str, Any]
                        ) -> dict[str, Any]:  # fmt: skip
    """Defaults a DHCP-served segment needs: the gateway is the first host unless given, and a
    range that starts on it (OpenNebula templates give whole subnets) starts one later."""
    first, last = subnet.network_address + 1, subnet.broadcast_address - 1
    gateway = str(table.get("gateway") or first)
    ranges = [AddressRange.parse(str(r)) for r in table.get("ranges") or [f"{first}-{last}"]]
    if "gateway" not in table:
        ranges = [AddressRange(str(ipaddress.IPv4Address(r.first_int + 1)), r.last)
                  if r.first == gateway and r.size > 1 else r for r in ranges]  # fmt: skip
    return {"gateway": gateway, "ranges": [str(r) for r in ranges]}


def _subnet(name: str, text: Any) -> ipaddress.IPv4Network:
    try:
        subnet = ipaddress.IPv4Network(str(text))
    except ValueError as exc:
        raise InvalidInput(f"network {name}: subnet {text!r} is not valid ({exc})",
                           hint="write an IPv4 CIDR, e.g. 192.168.10.0/24") from None  # fmt: skip
    if not any(subnet.subnet_of(p) for p in PRIVATE_USE) or not 16 <= subnet.prefixlen <= 29:
        raise InvalidInput(
            f"network {name}: subnet {subnet} is not a private-use /16 to /29",
            hint="use 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 space, e.g. 192.168.10.0/24",
        )
    return subnet


def checked_permissions(principal: Principal, network: Network, text: str) -> str:
    """New rights for a network: valid, and the ADMIN right given only by administrators."""
    return policy_permissions(principal, text, what=f"network {network.name}")


def checked_group(principal: Principal, network: Network, group: str) -> str:
    if not principal.is_admin and group not in principal.groups:
        raise Forbidden(f"user {principal.user} is not in group {group}; cannot give network "
                        f"{network.name} to it",
                        hint=f"your groups: {', '.join(principal.groups) or 'none'}")  # fmt: skip
    return group
