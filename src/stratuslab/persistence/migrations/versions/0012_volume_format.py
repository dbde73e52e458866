"""volumes.format: the format (qcow2 | raw) recorded when a volume is created, passed to every
tool that opens it (a header written by a guest is never probed); empty for older volumes,
whose pool's format is used

Revision ID: 0012_volume_format
Revises: 0011_network_permissions
Create Date: 2026-12-02 14:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_volume_format"
down_revision = "0011_network_permissions"
branch_labels = None
depends_on = None
#: code of the previous revision still runs on this schema (one nullable column added)
backward_compatible = True


def upgrade() -> None:
    with op.batch_alter_table("volumes") as batch:
        batch.add_column(sa.Column("format", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("volumes") as batch:
        batch.drop_column("format")
