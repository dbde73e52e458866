"""volumes: volumes (with the attach guard), volume_attachments, storage_quotas, storage_usage

Revision ID: 0004_volumes
Revises: 0003_auth
Create Date: 2026-11-22 01:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_volumes"
down_revision = "0003_auth"
branch_labels = None
depends_on = None
#: code of the previous revision still runs on this schema (expand only: new tables,
#: nullable or defaulted columns); see persistence.db.compatibility_floor
backward_compatible = True


def upgrade() -> None:
    op.create_table(
        "volumes",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("group", sa.String(length=64), nullable=False),
        sa.Column("size_gb", sa.Integer(), nullable=False),
        sa.Column("pool", sa.String(length=64), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("readonly", sa.Boolean(), nullable=False),
        sa.Column("parent", sa.String(length=128), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("vm_id", sa.Integer(), nullable=True),
        sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attach_count", sa.Integer(), nullable=False),
        sa.Column("writer_vm", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_volumes")),
    )
    op.create_index(op.f("ix_volumes_owner"), "volumes", ["owner"], unique=False)
    op.create_index(op.f("ix_volumes_parent"), "volumes", ["parent"], unique=False)
    op.create_index(op.f("ix_volumes_vm_id"), "volumes", ["vm_id"], unique=False)
    op.create_table(
        "volume_attachments",
        sa.Column("volume_uuid", sa.String(length=36), nullable=False),
        sa.Column("vm_id", sa.Integer(), nullable=False),
        sa.Column("device", sa.String(length=32), nullable=True),
        sa.Column("readonly", sa.Boolean(), nullable=False),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["volume_uuid"],
            ["volumes.uuid"],
            name=op.f("fk_volume_attachments_volume_uuid_volumes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("volume_uuid", "vm_id", name=op.f("pk_volume_attachments")),
    )
    op.create_index(
        op.f("ix_volume_attachments_vm_id"), "volume_attachments", ["vm_id"], unique=False
    )
    op.create_table(
        "storage_quotas",
        sa.Column("subject_kind", sa.String(length=8), nullable=False),
        sa.Column("subject_name", sa.String(length=64), nullable=False),
        sa.Column("max_volumes", sa.Integer(), nullable=True),
        sa.Column("max_gb", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("subject_kind", "subject_name", name=op.f("pk_storage_quotas")),
    )
    op.create_table(
        "storage_usage",
        sa.Column("subject_kind", sa.String(length=8), nullable=False),
        sa.Column("subject_name", sa.String(length=64), nullable=False),
        sa.Column("volumes", sa.Integer(), nullable=False),
        sa.Column("gb", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("subject_kind", "subject_name", name=op.f("pk_storage_usage")),
    )


def downgrade() -> None:
    op.drop_table("storage_usage")
    op.drop_table("storage_quotas")
    op.drop_index(op.f("ix_volume_attachments_vm_id"), table_name="volume_attachments")
    op.drop_table("volume_attachments")
    op.drop_index(op.f("ix_volumes_vm_id"), table_name="volumes")
    op.drop_index(op.f("ix_volumes_parent"), table_name="volumes")
    op.drop_index(op.f("ix_volumes_owner"), table_name="volumes")
    op.drop_table("volumes")
