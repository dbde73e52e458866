"""networks.group_name and networks.permissions: self-service networks with owner/group/other
rights (admin-defined networks keep "um-u--u--": everyone may use them, as before)

Revision ID: 0011_network_permissions
Revises: 0010_schema_compat
Create Date: 2026-12-02 13:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_network_permissions"
down_revision = "0010_schema_compat"
branch_labels = None
depends_on = None
#: code of the previous revision still runs on this schema (two columns with defaults added)
backward_compatible = True


def upgrade() -> None:
    with op.batch_alter_table("networks") as batch:
        batch.add_column(sa.Column("group_name", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("permissions", sa.String(9), nullable=False, server_default="um-u--u--")
        )


def downgrade() -> None:
    with op.batch_alter_table("networks") as batch:
        batch.drop_column("permissions")
        batch.drop_column("group_name")
