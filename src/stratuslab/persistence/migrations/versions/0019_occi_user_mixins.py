"""occi_mixins: user-defined OCCI mixins (tags), per owner, with their member locations

Revision ID: 0019_occi_user_mixins
Revises: 0018_typed_vm_spec
Create Date: 2026-12-02 17:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_occi_user_mixins"
down_revision = "0018_typed_vm_spec"
branch_labels = None
depends_on = None
#: code of the previous revision still runs on this schema (it only adds a table)
backward_compatible = True


def upgrade() -> None:
    op.create_table(
        "occi_mixins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("scheme", sa.String(length=255), nullable=False),
        sa.Column("term", sa.String(length=255), nullable=False),
        sa.Column("location", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_occi_mixins")),
        sa.UniqueConstraint("owner", "scheme", "term", name="uq_occi_mixins_owner_type"),
        sa.UniqueConstraint("owner", "location", name="uq_occi_mixins_owner_location"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("occi_mixins") as batch:
        batch.create_index(batch.f("ix_occi_mixins_owner"), ["owner"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("occi_mixins") as batch:
        batch.drop_index(batch.f("ix_occi_mixins_owner"))
    op.drop_table("occi_mixins")
