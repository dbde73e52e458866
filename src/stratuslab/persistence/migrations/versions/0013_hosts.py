"""hosts: the compute nodes as data (state, capacity, reserved share, version, heartbeat), so an
administrator's disable survives a restart and every front end sees every node

Revision ID: 0013_hosts
Revises: 0012_volume_format
Create Date: 2026-12-02 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_hosts"
down_revision = "0012_volume_format"
branch_labels = None
depends_on = None
#: code of the previous revision still runs on this schema (a new table nobody else reads)
backward_compatible = True


def upgrade() -> None:
    op.create_table(
        "hosts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("cpus", sa.Integer, nullable=False, server_default="0"),
        sa.Column("memory_mib", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reserved_cpus", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reserved_memory_mib", sa.Integer, nullable=False, server_default="0"),
        sa.Column("load1", sa.Float, nullable=False, server_default="0"),
        sa.Column("memory_available_mib", sa.Integer, nullable=False, server_default="0"),
        sa.Column("version", sa.String(64), nullable=False, server_default=""),
        sa.Column("front_end", sa.String(128), nullable=False, server_default=""),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_hosts"),
        sa.UniqueConstraint("name", name="uq_hosts_name"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("hosts")
