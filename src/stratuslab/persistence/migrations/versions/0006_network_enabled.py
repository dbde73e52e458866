"""networks.enabled: a network taken down (OCCI action down) gives no new leases

Revision ID: 0006_network_enabled
Revises: 0005_image_inbound_ports
Create Date: 2026-11-22 02:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_network_enabled"
down_revision = "0005_image_inbound_ports"
branch_labels = None
depends_on = None
#: code of the previous revision still runs on this schema (expand only: new tables,
#: nullable or defaulted columns); see persistence.db.compatibility_floor
backward_compatible = True


def upgrade() -> None:
    with op.batch_alter_table("networks") as batch:
        batch.add_column(
            sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("networks") as batch:
        batch.drop_column("enabled")
