"""The user-defined OCCI mixin table and its repository (`uow.repo("occi_mixins")`).

Migration 0019_occi_user_mixins creates the table.  Imports core and this package only.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Connection, Integer, String, Table, UniqueConstraint, select

from stratuslab.core.occimixins import MAX_TEXT, UserMixin
from stratuslab.persistence.repos import _Repo, from_row
from stratuslab.persistence.tables import metadata

occi_mixins = Table(
    "occi_mixins",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner", String(64), nullable=False, index=True),
    Column("scheme", String(MAX_TEXT), nullable=False),
    Column("term", String(MAX_TEXT), nullable=False),
    Column("location", String(MAX_TEXT), nullable=False),
    Column("title", String(MAX_TEXT), nullable=False),
    Column("members", JSON, nullable=False),
    UniqueConstraint("owner", "scheme", "term", name="uq_occi_mixins_owner_type"),
    UniqueConstraint("owner", "location", name="uq_occi_mixins_owner_location"),
    sqlite_autoincrement=True,  # ids are never reused
)


class UserMixinRepo(_Repo):
    table, entity = occi_mixins, UserMixin

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)

    def add(self, mixin: UserMixin) -> UserMixin:
        return self._add(mixin)  # type: ignore[no-any-return]

    def of_owner(self, owner: str) -> list[UserMixin]:
        q = select(occi_mixins).where(occi_mixins.c.owner == owner).order_by(occi_mixins.c.id)
        return [from_row(UserMixin, r) for r in self.conn.execute(q)]

    def update(self, mixin: UserMixin) -> None:
        self._update(mixin)

    def delete(self, mixin_id: int) -> None:
        self.conn.execute(occi_mixins.delete().where(occi_mixins.c.id == mixin_id))
