"""Never reuse an id: SQLite tables with integer ids get AUTOINCREMENT

OpenNebula never gives a deleted object's id to a new one, and audit logs, accounting and
quarantine refer to ids.  SQLite's plain INTEGER PRIMARY KEY hands out max(id)+1, so deleting the
newest row let its id come back; AUTOINCREMENT keeps the high-water mark in sqlite_sequence (the
copy below seeds it with the current largest id).  PostgreSQL sequences never go back: nothing to
do there.

Revision ID: 0008_never_reuse_ids
Revises: 0007_job_request_id
Create Date: 2026-12-02 13:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_never_reuse_ids"
down_revision = "0007_job_request_id"
branch_labels = None
depends_on = None
#: code of the previous revision still runs on this schema (expand only: new tables,
#: nullable or defaulted columns); see persistence.db.compatibility_floor
backward_compatible = True

#: every table of the cloud database whose rows are named by an integer id
TABLES = ("groups", "users", "images", "vms", "jobs", "vm_events", "vm_templates", "networks",
          "network_ranges", "network_reservations", "network_leases", "security_groups")  # fmt: skip


def _recreate(autoincrement: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    present = set(sa.inspect(bind).get_table_names())
    for name in TABLES:
        if name in present:
            with op.batch_alter_table(
                name, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
            ):
                pass


def upgrade() -> None:
    _recreate(True)


def downgrade() -> None:
    _recreate(False)
