"""Tables and repository of the auth feature: where each cloud account came from.

`user_origins` records, for accounts created on first login, the source that vouched for the
person (`ldap`, `password`, `x509`, `voms`...) and the link that authenticated them.  The table
is on the shared `metadata`; migration 0003_auth creates it.  Imports core only (and this
package's tables).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    insert,
    select,
)

from stratuslab.persistence.tables import metadata

user_origins = Table(
    "user_origins",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("origin", String(32), nullable=False),
    Column("method", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True)),
)


class UserOriginRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, user_id: int, origin: str, method: str, at: datetime) -> None:
        self.conn.execute(insert(user_origins).values(
            user_id=user_id, origin=origin, method=method, created_at=at))

    def get(self, user_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(
            select(user_origins).where(user_origins.c.user_id == user_id)).first()
        return dict(row._mapping) if row else None
