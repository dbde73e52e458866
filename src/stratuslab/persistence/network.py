"""Network tables and the SQLAlchemy NetworkRepo (services/network/repository.py).

Networks with their address ranges, leases (UNIQUE per network and address, inserted inside a
SAVEPOINT so a lost race raises Conflict and the caller's transaction survives), holds, user
reservations and security groups (unique per owner and name).  The tables live on the shared
`metadata` of persistence/tables.py; migration 0002_network creates them.  Imports core and
persistence only: never services, drivers or api.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError

from stratuslab.core.errors import Conflict
from stratuslab.core.network import (
    AddressClass,
    AddressRange,
    Direction,
    Hold,
    IpProtocol,
    Ipv6Mode,
    Lease,
    Network,
    Reservation,
    Rule,
    SecurityGroup,
    SegmentKind,
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
    UniqueConstraint("segment_kind", "segment_id", name="uq_networks_segment"),
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
)

network_reservations = Table(
    "network_reservations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("network", String(64), nullable=False),
    Column("owner", String(64), nullable=False, index=True),
    Column("size", Integer, nullable=False),
    Column("name", String(128), nullable=False),
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


class SqlNetworkRepo:
    """NetworkRepo over one unit-of-work connection (registered as uow.repo("networks"))."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- networks --------------------------------------------------------------------------

    def add_network(self, network: Network) -> Network:
        values = self._network_values(network)
        try:
            with self.conn.begin_nested():
                new_id = _new_id(self.conn.execute(insert(networks).values(**values)))
        except IntegrityError:
            raise Conflict(
                f"network {network.name} (or its {network.segment_kind} segment "
                f"{network.segment_id}) already exists",
                hint="choose another name or segment id: stratus network list",
            ) from None
        self._write_ranges(new_id, network.ranges)
        return _replace_id(network, new_id)

    def get_network(self, name: str) -> Network | None:
        row = self.conn.execute(select(networks).where(networks.c.name == name)).first()
        return self._network(row) if row else None

    def list_networks(self) -> list[Network]:
        rows = self.conn.execute(select(networks).order_by(networks.c.name)).all()
        return [self._network(r) for r in rows]

    def update_network(self, network: Network) -> None:
        row = self.conn.execute(
            select(networks.c.id).where(networks.c.name == network.name)
        ).first()
        if row is None:
            return
        self.conn.execute(
            update(networks).where(networks.c.id == row.id).values(**self._network_values(network))
        )
        self.conn.execute(delete(network_ranges).where(network_ranges.c.network_id == row.id))
        self._write_ranges(row.id, network.ranges)

    def delete_network(self, name: str) -> None:
        row = self.conn.execute(select(networks.c.id).where(networks.c.name == name)).first()
        if row is None:
            return
        self.conn.execute(delete(network_holds).where(network_holds.c.network == name))
        self.conn.execute(delete(network_ranges).where(network_ranges.c.network_id == row.id))
        self.conn.execute(delete(networks).where(networks.c.id == row.id))

    def used_segments(self, kind: SegmentKind) -> set[int]:
        rows = self.conn.execute(
            select(networks.c.segment_id).where(
                networks.c.segment_kind == kind.value, networks.c.segment_id.is_not(None)
            )
        )
        return {int(r.segment_id) for r in rows}

    def _network_values(self, n: Network) -> dict[str, Any]:
        return {
            "name": n.name, "subnet": n.subnet, "address_class": n.address_class.value,
            "segment_kind": n.segment_kind.value, "segment_id": n.segment_id,
            "gateway": n.gateway, "dns": list(n.dns), "mac_prefix": n.mac_prefix,
            "ipv6_prefix": n.ipv6_prefix, "ipv6_mode": n.ipv6_mode.value, "owner": n.owner,
            "enabled": n.enabled,
        }  # fmt: skip

    def _write_ranges(self, network_id: int, ranges: tuple[AddressRange, ...]) -> None:
        for r in ranges:
            self.conn.execute(
                insert(network_ranges).values(
                    network_id=network_id, first_ip=r.first, last_ip=r.last
                )
            )

    def _network(self, row: Any) -> Network:
        ranges = self.conn.execute(
            select(network_ranges)
            .where(network_ranges.c.network_id == row.id)
            .order_by(network_ranges.c.id)
        ).all()
        return Network(
            name=row.name, subnet=row.subnet,
            ranges=tuple(AddressRange(r.first_ip, r.last_ip) for r in ranges),
            address_class=AddressClass(row.address_class),
            segment_kind=SegmentKind(row.segment_kind), segment_id=row.segment_id,
            gateway=row.gateway, dns=tuple(row.dns or ()), mac_prefix=row.mac_prefix,
            ipv6_prefix=row.ipv6_prefix, ipv6_mode=Ipv6Mode(row.ipv6_mode), owner=row.owner,
            id=row.id, enabled=bool(row.enabled),
        )  # fmt: skip

    # --- leases ----------------------------------------------------------------------------

    def add_lease(self, lease: Lease) -> None:
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert(network_leases).values(**_lease_values(lease)))
        except IntegrityError:
            raise Conflict(
                f"address {lease.ip} of network {lease.network} is already leased",
                hint="ask for another address, or omit it to get a free one",
            ) from None

    def get_lease(self, network: str, ip: str) -> Lease | None:
        row = self.conn.execute(
            select(network_leases).where(
                network_leases.c.network == network, network_leases.c.ip == ip
            )
        ).first()
        return _lease(row) if row else None

    def update_lease(self, lease: Lease) -> None:
        self.conn.execute(
            update(network_leases)
            .where(network_leases.c.network == lease.network, network_leases.c.ip == lease.ip)
            .values(**_lease_values(lease))
        )

    def delete_lease(self, network: str, ip: str) -> bool:
        result = self.conn.execute(
            delete(network_leases).where(
                network_leases.c.network == network, network_leases.c.ip == ip
            )
        )
        return bool(result.rowcount)

    def leases(self, network: str) -> list[Lease]:
        return self._leases(network_leases.c.network == network)

    def leases_for_vm(self, vm_id: int) -> list[Lease]:
        return self._leases(network_leases.c.vm_id == vm_id)

    def leases_for_reservation(self, reservation_id: int) -> list[Lease]:
        return self._leases(network_leases.c.reservation_id == reservation_id)

    def count_leases(self, owner: str) -> int:
        q = select(func.count()).select_from(network_leases).where(network_leases.c.owner == owner)
        return int(self.conn.execute(q).scalar_one())

    def _leases(self, where: Any) -> list[Lease]:
        rows = self.conn.execute(
            select(network_leases).where(where).order_by(network_leases.c.id)
        ).all()
        return [_lease(r) for r in rows]

    # --- holds -----------------------------------------------------------------------------

    def add_hold(self, hold: Hold) -> None:
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(network_holds).values(
                        network=hold.network, ip=hold.ip, reason=hold.reason
                    )
                )
        except IntegrityError:
            pass  # already held: holding twice is harmless

    def delete_hold(self, network: str, ip: str) -> bool:
        result = self.conn.execute(
            delete(network_holds).where(
                network_holds.c.network == network, network_holds.c.ip == ip
            )
        )
        return bool(result.rowcount)

    def holds(self, network: str) -> list[Hold]:
        rows = self.conn.execute(
            select(network_holds)
            .where(network_holds.c.network == network)
            .order_by(network_holds.c.ip)
        )
        return [Hold(r.network, r.ip, r.reason) for r in rows]

    # --- reservations ----------------------------------------------------------------------

    def add_reservation(self, reservation: Reservation) -> Reservation:
        r = reservation
        new_id = _new_id(
            self.conn.execute(
                insert(network_reservations).values(
                    network=r.network, owner=r.owner, size=r.size, name=r.name
                )
            )
        )
        return Reservation(int(new_id), r.network, r.owner, r.size, r.name)

    def get_reservation(self, reservation_id: int) -> Reservation | None:
        row = self.conn.execute(
            select(network_reservations).where(network_reservations.c.id == reservation_id)
        ).first()
        return _reservation(row) if row else None

    def delete_reservation(self, reservation_id: int) -> None:
        self.conn.execute(
            delete(network_reservations).where(network_reservations.c.id == reservation_id)
        )

    def reservations(self, owner: str | None = None) -> list[Reservation]:
        q = select(network_reservations).order_by(network_reservations.c.id)
        if owner is not None:
            q = q.where(network_reservations.c.owner == owner)
        return [_reservation(r) for r in self.conn.execute(q)]

    # --- security groups -------------------------------------------------------------------

    def add_group(self, group: SecurityGroup) -> SecurityGroup:
        try:
            with self.conn.begin_nested():
                new_id = _new_id(
                    self.conn.execute(insert(security_groups).values(**_group_values(group)))
                )
        except IntegrityError:
            raise Conflict(
                f"security group {group.name} of {group.owner} already exists",
                hint="choose another name, or change it: stratus secgroup add-rule",
            ) from None
        return SecurityGroup(group.name, group.owner, group.rules, group.description, int(new_id))

    def get_group(self, owner: str, name: str) -> SecurityGroup | None:
        row = self.conn.execute(
            select(security_groups).where(
                security_groups.c.owner == owner, security_groups.c.name == name
            )
        ).first()
        return _group(row) if row else None

    def list_groups(self, owner: str | None = None) -> list[SecurityGroup]:
        q = select(security_groups).order_by(security_groups.c.owner, security_groups.c.name)
        if owner is not None:
            q = q.where(security_groups.c.owner == owner)
        return [_group(r) for r in self.conn.execute(q)]

    def update_group(self, group: SecurityGroup) -> None:
        self.conn.execute(
            update(security_groups)
            .where(security_groups.c.owner == group.owner, security_groups.c.name == group.name)
            .values(**_group_values(group))
        )

    def delete_group(self, owner: str, name: str) -> None:
        self.conn.execute(
            delete(security_groups).where(
                security_groups.c.owner == owner, security_groups.c.name == name
            )
        )


def _new_id(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _replace_id(network: Network, new_id: Any) -> Network:
    return dataclasses.replace(network, id=int(new_id))


def _lease_values(le: Lease) -> dict[str, Any]:
    return {
        "network": le.network, "ip": le.ip, "mac": le.mac, "ipv6": le.ipv6, "vm_id": le.vm_id,
        "nic_index": le.nic_index, "reservation_id": le.reservation_id, "owner": le.owner,
    }  # fmt: skip


def _lease(row: Any) -> Lease:
    return Lease(
        row.network, row.ip, row.mac, row.ipv6, vm_id=row.vm_id, nic_index=row.nic_index,
        reservation_id=row.reservation_id, owner=row.owner,
    )  # fmt: skip


def _reservation(row: Any) -> Reservation:
    return Reservation(row.id, row.network, row.owner, row.size, row.name)


def _group_values(g: SecurityGroup) -> dict[str, Any]:
    return {
        "owner": g.owner, "name": g.name, "description": g.description,
        "rules": [rule_to_json(r) for r in g.rules],
    }  # fmt: skip


def _group(row: Any) -> SecurityGroup:
    rules = tuple(rule_from_json(r) for r in row.rules or ())
    return SecurityGroup(row.name, row.owner, rules, row.description, row.id)
