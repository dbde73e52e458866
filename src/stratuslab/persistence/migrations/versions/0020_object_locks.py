"""OpenNebula lock levels of VMs and images (`one.vm.lock`, `one.image.lock`): 0 unlocked, 1 USE,
2 MANAGE, 3 ADMIN, 4 ALL

Revision ID: 0020_object_locks
Revises: 0019_occi_user_mixins
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_object_locks"
down_revision = "0019_occi_user_mixins"
branch_labels = None
depends_on = None
#: code of the previous revision still runs on this schema (a defaulted column)
backward_compatible = True

_TABLES = ("vms", "images")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("lock", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("lock")
