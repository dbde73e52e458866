"""images.inbound_ports: the TCP ports an image declares its firewall opens (marketplace
slterms:inbound-port, or `stratus image register --inbound-port`)

Revision ID: 0005_image_inbound_ports
Revises: 0004_volumes
Create Date: 2026-11-22 02:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_image_inbound_ports"
down_revision = "0004_volumes"
branch_labels = None
depends_on = None
#: code of the previous revision still runs on this schema (expand only: new tables,
#: nullable or defaulted columns); see persistence.db.compatibility_floor
backward_compatible = True


def upgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("inbound_ports", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.drop_column("inbound_ports")
