"""Reservations and security groups of the SQL network repository (a mixin of
repository.SqlNetworkRepo, over the same connection).  Imports core and persistence only.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from stratuslab.core.errors import Conflict
from stratuslab.core.network import Reservation, SecurityGroup
from stratuslab.persistence.network.tables import (
    group_row,
    group_values,
    network_reservations,
    new_id,
    reservation_row,
    security_groups,
)


class GroupsRepo:
    conn: Connection

    # --- reservations ----------------------------------------------------------------------

    def add_reservation(self, reservation: Reservation) -> Reservation:
        r = reservation
        made_id = new_id(
            self.conn.execute(
                insert(network_reservations).values(
                    network=r.network, owner=r.owner, size=r.size, name=r.name
                )
            )
        )
        return Reservation(int(made_id), r.network, r.owner, r.size, r.name)

    def get_reservation(self, reservation_id: int) -> Reservation | None:
        row = self.conn.execute(
            select(network_reservations).where(network_reservations.c.id == reservation_id)
        ).first()
        return reservation_row(row) if row else None

    def delete_reservation(self, reservation_id: int) -> None:
        self.conn.execute(
            delete(network_reservations).where(network_reservations.c.id == reservation_id)
        )

    def reservations(self, owner: str | None = None) -> list[Reservation]:
        q = select(network_reservations).order_by(network_reservations.c.id)
        if owner is not None:
            q = q.where(network_reservations.c.owner == owner)
        return [reservation_row(r) for r in self.conn.execute(q)]

    # --- security groups -------------------------------------------------------------------

    def add_group(self, group: SecurityGroup) -> SecurityGroup:
        try:
            with self.conn.begin_nested():
                made_id = new_id(
                    self.conn.execute(insert(security_groups).values(**group_values(group)))
                )
        except IntegrityError:
            raise Conflict(
                f"security group {group.name} of {group.owner} already exists",
                hint="choose another name, or change it: stratus secgroup add-rule",
            ) from None
        return SecurityGroup(group.name, group.owner, group.rules, group.description, int(made_id))

    def get_group(self, owner: str, name: str) -> SecurityGroup | None:
        row = self.conn.execute(
            select(security_groups).where(
                security_groups.c.owner == owner, security_groups.c.name == name
            )
        ).first()
        return group_row(row) if row else None

    def list_groups(self, owner: str | None = None) -> list[SecurityGroup]:
        q = select(security_groups).order_by(security_groups.c.owner, security_groups.c.name)
        if owner is not None:
            q = q.where(security_groups.c.owner == owner)
        return [group_row(r) for r in self.conn.execute(q)]

    def update_group(self, group: SecurityGroup) -> None:
        self.conn.execute(
            update(security_groups)
            .where(security_groups.c.owner == group.owner, security_groups.c.name == group.name)
            .values(**group_values(group))
        )

    def delete_group(self, owner: str, name: str) -> None:
        self.conn.execute(
            delete(security_groups).where(
                security_groups.c.owner == owner, security_groups.c.name == name
            )
        )
