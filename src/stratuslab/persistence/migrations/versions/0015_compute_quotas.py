"""compute quotas: vms.disk_gb (what a VM's disks take), compute_quotas (limits set by
administrators per user and group); usage is summed from vms, so nothing to backfill but the
disk sizes of existing VMs, which start at 0

Revision ID: 0015_compute_quotas
Revises: 0014_network_router
Create Date: 2026-12-02 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_compute_quotas"
down_revision = "0014_network_router"
branch_labels = None
depends_on = None
#: code of the previous revision still runs on this schema (a defaulted column, an index and a
#: table are added; its VMs count 0 GiB of disk until they end)
backward_compatible = True


def upgrade() -> None:
    with op.batch_alter_table("vms") as batch:
        batch.add_column(sa.Column("disk_gb", sa.Integer(), nullable=False, server_default="0"))
        batch.create_index("ix_vms_group_state", ["group", "state"], unique=False)
    op.create_table(
        "compute_quotas",
        sa.Column("subject_kind", sa.String(length=8), nullable=False),
        sa.Column("subject_name", sa.String(length=64), nullable=False),
        sa.Column("vms", sa.Integer(), nullable=True),
        sa.Column("cpu", sa.Integer(), nullable=True),
        sa.Column("memory_mib", sa.Integer(), nullable=True),
        sa.Column("disk_gb", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("subject_kind", "subject_name", name=op.f("pk_compute_quotas")),
    )


def downgrade() -> None:
    op.drop_table("compute_quotas")
    with op.batch_alter_table("vms") as batch:
        batch.drop_index("ix_vms_group_state")
        batch.drop_column("disk_gb")
