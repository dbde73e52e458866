"""The CDMI object table and its repository (`uow.repo("objects")`).

The table lives on the shared `metadata` of persistence.tables; migration 0009_cdmi_objects
creates it.  Imports core and this package only.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    DateTime,
    Integer,
    String,
    Table,
    UniqueConstraint,
    delete,
    func,
    select,
)

from stratuslab.core.objects import ObjectKind, StoredObject
from stratuslab.persistence.repos import from_row, to_values
from stratuslab.persistence.tables import metadata

objects = Table(
    "objects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("object_id", String(80), nullable=False, unique=True),
    Column("parent", String(80), nullable=False, index=True),
    Column("name", String(255)),
    Column("kind", String(16), nullable=False),
    Column("owner", String(64), nullable=False, index=True),
    Column("mimetype", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("blob", String(120)),
    Column("sha256", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    UniqueConstraint("parent", "name", name="uq_objects_parent_name"),
    sqlite_autoincrement=True,  # ids are never reused
)


class ObjectRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, obj: StoredObject) -> StoredObject:
        result = self.conn.execute(objects.insert().values(**to_values(obj, objects)))
        key = result.inserted_primary_key
        assert key is not None
        obj.id = int(key[0])
        return obj

    def get(self, object_id: str) -> StoredObject | None:
        row = self.conn.execute(select(objects).where(objects.c.object_id == object_id)).first()
        return from_row(StoredObject, row) if row else None

    def child(self, parent: str, name: str) -> StoredObject | None:
        row = self.conn.execute(
            select(objects).where(objects.c.parent == parent, objects.c.name == name)
        ).first()
        return from_row(StoredObject, row) if row else None

    def children(self, parent: str, offset: int, limit: int) -> list[StoredObject]:
        q = (select(objects).where(objects.c.parent == parent, objects.c.name.is_not(None))
             .order_by(objects.c.name).offset(offset).limit(limit))
        return [from_row(StoredObject, r) for r in self.conn.execute(q)]

    def count_children(self, parent: str) -> int:
        q = select(func.count()).select_from(objects).where(objects.c.parent == parent)
        return int(self.conn.execute(q).scalar_one())

    def top_level(self, owner: str | None) -> list[StoredObject]:
        q = select(objects).where(objects.c.parent == "",
                                  objects.c.kind == ObjectKind.CONTAINER.value)
        if owner is not None:
            q = q.where(objects.c.owner == owner)
        return [from_row(StoredObject, r) for r in self.conn.execute(q.order_by(objects.c.name))]

    def update(self, obj: StoredObject) -> None:
        self.conn.execute(objects.update().where(objects.c.id == obj.id)
                          .values(**to_values(obj, objects)))

    def delete(self, object_id: str) -> None:
        self.conn.execute(delete(objects).where(objects.c.object_id == object_id))

    def used_bytes(self, owner: str) -> int:
        q = select(func.coalesce(func.sum(objects.c.size), 0)).where(objects.c.owner == owner)
        return int(self.conn.execute(q).scalar_one())
