"""jobs.request_id: the request that asked for a job, so its runner logs under the same id

Revision ID: 0007_job_request_id
Revises: 0006_network_enabled
Create Date: 2026-12-02 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_job_request_id"
down_revision = "0006_network_enabled"
branch_labels = None
depends_on = None
#: code of the previous revision still runs on this schema (expand only: new tables,
#: nullable or defaulted columns); see persistence.db.compatibility_floor
backward_compatible = True


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("request_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("request_id")
