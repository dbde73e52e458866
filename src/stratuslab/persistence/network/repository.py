"""SqlNetworkRepo: the NetworkRepo of services/network/repository.py over one unit-of-work
connection (registered as uow.repo("networks")): networks with their ranges, leases and holds
here; reservations and security groups in the sibling groups module.

Leases are inserted inside a SAVEPOINT so a lost race raises Conflict and the caller's
transaction survives.  Imports core and persistence only: never services, drivers or api.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from stratuslab.core.errors import Conflict
from stratuslab.core.network import (
    AddressClass,
    AddressRange,
    Hold,
    Ipv6Mode,
    Lease,
    Network,
    Router,
    SegmentKind,
)
from stratuslab.persistence.network.groups import GroupsRepo
from stratuslab.persistence.network.tables import (
    lease_row,
    lease_values,
    network_holds,
    network_leases,
    network_ranges,
    networks,
    new_id,
    replace_id,
    router_from_json,
    router_to_json,
)


class SqlNetworkRepo(GroupsRepo):
    """NetworkRepo over one unit-of-work connection (registered as uow.repo("networks"))."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- networks --------------------------------------------------------------------------

    def add_network(self, network: Network) -> Network:
        values = self._network_values(network)
        try:
            with self.conn.begin_nested():
                made_id = new_id(self.conn.execute(insert(networks).values(**values)))
        except IntegrityError:
            raise Conflict(
                f"network {network.name} (or its {network.segment_kind} segment "
                f"{network.segment_id}) already exists",
                hint="choose another name or segment id: stratus network list",
            ) from None
        self._write_ranges(made_id, network.ranges)
        return replace_id(network, made_id)

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
            "enabled": n.enabled, "group_name": n.group, "permissions": n.permissions,
            "router": router_to_json(n.router), "template": n.template,
        }  # fmt: skip

    def _router(self, data: Any) -> Router | None:
        if not data:
            return None
        return router_from_json(data, self.get_network(data["external"]))

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
            id=row.id, enabled=bool(row.enabled), group=row.group_name,
            permissions=row.permissions, router=self._router(row.router),
            template=row.template,
        )  # fmt: skip

    # --- leases ----------------------------------------------------------------------------

    def add_lease(self, lease: Lease) -> None:
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert(network_leases).values(**lease_values(lease)))
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
        return lease_row(row) if row else None

    def update_lease(self, lease: Lease) -> None:
        self.conn.execute(
            update(network_leases)
            .where(network_leases.c.network == lease.network, network_leases.c.ip == lease.ip)
            .values(**lease_values(lease))
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
        return [lease_row(r) for r in rows]

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
