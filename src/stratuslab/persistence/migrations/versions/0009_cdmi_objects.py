"""objects: CDMI containers and data objects (their bytes live in the blob store)

Revision ID: 0009_cdmi_objects
Revises: 0008_never_reuse_ids
Create Date: 2026-12-02 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_cdmi_objects"
down_revision = "0008_never_reuse_ids"
branch_labels = None
depends_on = None
#: code of the previous revision still runs on this schema (it only adds tables)
backward_compatible = True


def upgrade() -> None:
    op.create_table(
        "objects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("object_id", sa.String(length=80), nullable=False),
        sa.Column("parent", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("mimetype", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("blob", sa.String(length=120), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objects")),
        sa.UniqueConstraint("object_id", name=op.f("uq_objects_object_id")),
        sa.UniqueConstraint("parent", "name", name="uq_objects_parent_name"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("objects") as batch:
        batch.create_index(batch.f("ix_objects_parent"), ["parent"], unique=False)
        batch.create_index(batch.f("ix_objects_owner"), ["owner"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("objects") as batch:
        batch.drop_index(batch.f("ix_objects_owner"))
        batch.drop_index(batch.f("ix_objects_parent"))
    op.drop_table("objects")
