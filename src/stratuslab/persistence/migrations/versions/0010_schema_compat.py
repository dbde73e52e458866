"""schema_compat: the oldest code revision that still runs on this database (rolling upgrades)

`persistence.db` writes it after every migration run, from the `backward_compatible` flags of
the migrations: front ends of an older release keep serving during a rolling upgrade while every
migration since their revision only expands the schema.

Revision ID: 0010_schema_compat
Revises: 0009_cdmi_objects
Create Date: 2026-12-02 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_schema_compat"
down_revision = "0009_cdmi_objects"
branch_labels = None
depends_on = None
#: code of the previous revision still runs on this schema (it only adds a table)
backward_compatible = True


def upgrade() -> None:
    op.create_table(
        "schema_compat",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("oldest_code_revision", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("schema_compat")
