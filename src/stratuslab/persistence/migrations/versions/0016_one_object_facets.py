"""OpenNebula facets of existing objects: owner/group/other rights of VMs and VM templates
(`one.vm.chmod`, `one.template.chmod`), and the free-form TEMPLATE of users, images and networks
(`one.user.update`, `one.image.update`, `one.vn.update`; a network's BRIDGE is kept there)

Revision ID: 0016_one_object_facets
Revises: 0015_compute_quotas
Create Date: 2026-12-02 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_one_object_facets"
down_revision = "0015_compute_quotas"
branch_labels = None
depends_on = None
#: code of the previous revision still runs on this schema (defaulted or nullable columns)
backward_compatible = True

_RIGHTS = ("vms", "vm_templates")
_TEMPLATES = ("users", "images", "networks")


def upgrade() -> None:
    for table in _RIGHTS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("permissions", sa.String(length=9), nullable=False,
                                       server_default="um-------"))
    for table in _TEMPLATES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("template", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in _TEMPLATES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("template")
    for table in _RIGHTS:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("permissions")
