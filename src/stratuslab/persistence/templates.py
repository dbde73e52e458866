"""The VM template table (`one.template.*`) and its repository.

The table lives on the shared `metadata` of persistence.tables; migration 0002_vm_templates
creates it.  Imports core and this package only.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, DateTime, Integer, String, Table, Text, delete, select

from stratuslab.core.templates import VmTemplate
from stratuslab.persistence.repos import from_row, to_values
from stratuslab.persistence.tables import metadata

vm_templates = Table(
    "vm_templates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("owner", String(64), nullable=False, index=True),
    Column("group", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True)),
    Column("permissions", String(9), nullable=False, server_default="um-------"),
    sqlite_autoincrement=True,  # ids are never reused (migration 0008)
)


class VmTemplateRepo:
    """`uow.repo("vm_templates")`: VM templates in the unit of work's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, template: VmTemplate) -> VmTemplate:
        result = self.conn.execute(
            vm_templates.insert().values(**to_values(template, vm_templates))
        )
        key = result.inserted_primary_key
        assert key is not None
        template.id = int(key[0])
        return template

    def get(self, template_id: int) -> VmTemplate | None:
        row = self.conn.execute(
            select(vm_templates).where(vm_templates.c.id == template_id)
        ).first()
        return from_row(VmTemplate, row) if row else None

    def list(self, owner: str | None = None) -> list[VmTemplate]:
        q = select(vm_templates).order_by(vm_templates.c.id)
        if owner is not None:
            q = q.where(vm_templates.c.owner == owner)
        return [from_row(VmTemplate, r) for r in self.conn.execute(q)]

    def update(self, template: VmTemplate) -> None:
        self.conn.execute(
            vm_templates.update()
            .where(vm_templates.c.id == template.id)
            .values(**to_values(template, vm_templates))
        )

    def delete(self, template_id: int) -> None:
        self.conn.execute(delete(vm_templates).where(vm_templates.c.id == template_id))
