"""Network tables on the shared `metadata` (persistence/tables.py) and their row mapping.

Networks with their address ranges, leases (UNIQUE per network and address), holds, user
reservations and security groups (unique per owner and name).  Migrations 0002_network and later
create and change them.  Imports core and persistence only.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)

from stratuslab.core.network import (
    Direction,
    FloatingIp,
    IpProtocol,
    Lease,
    Network,
    Reservation,
    Router,
    Rule,
    SecurityGroup,
)
from stratuslab.persistence.tables import metadata

networks = Table(
    "networks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("subnet", String(64), nullable=False),
    Column("address_class", String(16), nullable=False),
    Column("segment_kind", String(16), nullable=False),
    Column("segment_id", Integer),
    Column("gateway", String(64)),
    Column("dns", JSON, nullable=False),
    Column("mac_prefix", String(8), nullable=False),
    Column("ipv6_prefix", String(64)),
    Column("ipv6_mode", String(16), nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=true()),
    Column("owner", String(64), nullable=False),
    Column("group_name", String(64)),
    Column("permissions", String(9), nullable=False, server_default="um-u--u--"),
    Column("router", JSON),
    Column("template", Text),  # OpenNebula TEMPLATE as given (BRIDGE...; one.vn.update)
    UniqueConstraint("segment_kind", "segment_id", name="uq_networks_segment"),
    sqlite_autoincrement=True,  # ids are never reused (migration 0008)
)

network_ranges = Table(
    "network_ranges",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "network_id",
        Integer,
        ForeignKey("networks.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("first_ip", String(64), nullable=False),
    Column("last_ip", String(64), nullable=False),
    sqlite_autoincrement=True,  # ids are never reused (migration 0008)
)

network_reservations = Table(
    "network_reservations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("network", String(64), nullable=False),
    Column("owner", String(64), nullable=False, index=True),
    Column("size", Integer, nullable=False),
    Column("name", String(128), nullable=False),
    sqlite_autoincrement=True,  # ids are never reused (migration 0008)
)

network_leases = Table(
    "network_leases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("network", String(64), nullable=False),
    Column("ip", String(64), nullable=False),
    Column("mac", String(32), nullable=False),
    Column("ipv6", String(64)),
    Column("vm_id", Integer, index=True),
    Column("nic_index", Integer, nullable=False),
    Column("reservation_id", Integer, index=True),
    Column("owner", String(64), index=True),
    UniqueConstraint("network", "ip", name="uq_network_leases_network_ip"),
    sqlite_autoincrement=True,  # ids are never reused (migration 0008)
)

network_holds = Table(
    "network_holds",
    metadata,
    Column("network", String(64), primary_key=True),
    Column("ip", String(64), primary_key=True),
    Column("reason", String(256), nullable=False),
)

security_groups = Table(
    "security_groups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("name", String(64), nullable=False),
    Column("description", String(256), nullable=False),
    Column("rules", JSON, nullable=False),
    UniqueConstraint("owner", "name", name="uq_security_groups_owner_name"),
    sqlite_autoincrement=True,  # ids are never reused (migration 0008)
)


def rule_to_json(rule: Rule) -> dict[str, Any]:
    return {
        "direction": rule.direction.value, "protocol": rule.protocol.value,
        "port_min": rule.port_min, "port_max": rule.port_max,
        "remote_cidr": rule.remote_cidr, "remote_group": rule.remote_group,
    }  # fmt: skip


def rule_from_json(data: dict[str, Any]) -> Rule:
    return Rule(
        Direction(data["direction"]), IpProtocol(data["protocol"]),
        data.get("port_min"), data.get("port_max"),
        remote_cidr=data.get("remote_cidr"), remote_group=data.get("remote_group"),
    )  # fmt: skip


def new_id(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def replace_id(network: Network, new_id: Any) -> Network:
    return dataclasses.replace(network, id=int(new_id))


def lease_values(le: Lease) -> dict[str, Any]:
    return {
        "network": le.network, "ip": le.ip, "mac": le.mac, "ipv6": le.ipv6, "vm_id": le.vm_id,
        "nic_index": le.nic_index, "reservation_id": le.reservation_id, "owner": le.owner,
    }  # fmt: skip


def lease_row(row: Any) -> Lease:
    return Lease(
        row.network, row.ip, row.mac, row.ipv6, vm_id=row.vm_id, nic_index=row.nic_index,
        reservation_id=row.reservation_id, owner=row.owner,
    )  # fmt: skip


def reservation_row(row: Any) -> Reservation:
    return Reservation(row.id, row.network, row.owner, row.size, row.name)


def group_values(g: SecurityGroup) -> dict[str, Any]:
    return {
        "owner": g.owner, "name": g.name, "description": g.description,
        "rules": [rule_to_json(r) for r in g.rules],
    }  # fmt: skip


def group_row(row: Any) -> SecurityGroup:
    rules = tuple(rule_from_json(r) for r in row.rules or ())
    return SecurityGroup(row.name, row.owner, rules, row.description, row.id)


def router_to_json(router: Router | None) -> dict[str, Any] | None:
    if router is None:
        return None
    return {
        "external": router.external.name, "ip": router.ip,
        "reservation_id": router.reservation_id,
        "floating": [{"ip": f.ip, "private_ip": f.private_ip,
                      "reservation_id": f.reservation_id} for f in router.floating],
    }  # fmt: skip


def router_from_json(data: dict[str, Any] | None, external: Network | None) -> Router | None:
    if not data or external is None:
        return None
    floating = tuple(FloatingIp(f["ip"], f["private_ip"], f.get("reservation_id"))
                     for f in data.get("floating", []))  # fmt: skip
    return Router(external, data["ip"], data.get("reservation_id"), floating)
