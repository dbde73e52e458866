"""vm_templates: named OpenNebula VM templates (one.template.*)

Revision ID: 0002_vm_templates
Revises: 0002_network
Create Date: 2026-11-22 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_vm_templates"
down_revision = "0002_network"
branch_labels = None
depends_on = None
#: code of the previous revision still runs on this schema (expand only: new tables,
#: nullable or defaulted columns); see persistence.db.compatibility_floor
backward_compatible = True


def upgrade() -> None:
    op.create_table(
        "vm_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("group", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vm_templates")),
    )
    with op.batch_alter_table("vm_templates") as batch:
        batch.create_index(batch.f("ix_vm_templates_owner"), ["owner"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("vm_templates") as batch:
        batch.drop_index(batch.f("ix_vm_templates_owner"))
    op.drop_table("vm_templates")
