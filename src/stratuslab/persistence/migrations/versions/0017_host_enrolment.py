"""host enrolment: host_enrolments (one-time tokens, hashed) and host_certificates (what the
cloud CA signed, with revocation)

Revision ID: 0017_host_enrolment
Revises: 0016_one_object_facets
Create Date: 2026-12-02 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_host_enrolment"
down_revision = "0016_one_object_facets"
branch_labels = None
depends_on = None
#: code of the previous revision still runs on this schema (two new tables only)
backward_compatible = True


def upgrade() -> None:
    op.create_table(
        "host_enrolments",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_host_enrolments")),
    )
    op.create_index(op.f("ix_host_enrolments_host"), "host_enrolments", ["host"])
    op.create_table(
        "host_certificates",
        sa.Column("serial", sa.String(length=48), nullable=False),
        sa.Column("host", sa.String(length=128), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_host_certificates")),
    )
    op.create_index(op.f("ix_host_certificates_host"), "host_certificates", ["host"])


def downgrade() -> None:
    op.drop_index(op.f("ix_host_certificates_host"), table_name="host_certificates")
    op.drop_table("host_certificates")
    op.drop_index(op.f("ix_host_enrolments_host"), table_name="host_enrolments")
    op.drop_table("host_enrolments")
