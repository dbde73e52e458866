"""networks.router: a tenant network's router (external network, its address, floating
addresses), as JSON

Revision ID: 0014_network_router
Revises: 0013_hosts
Create Date: 2026-12-02 14:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_network_router"
down_revision = "0013_hosts"
branch_labels = None
depends_on = None
#: code of the previous revision still runs on this schema (a nullable column added)
backward_compatible = True


def upgrade() -> None:
    with op.batch_alter_table("networks") as batch:
        batch.add_column(sa.Column("router", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("networks") as batch:
        batch.drop_column("router")
