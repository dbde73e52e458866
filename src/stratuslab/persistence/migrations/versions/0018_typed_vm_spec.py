"""typed VM spec: every vms.spec object gets schema_version 2, every field of
core.vmspec.InstanceSpec (defaults where a key was missing) and its unknown keys under
"leftover"; downgrade puts the leftover keys back at the top and drops the version.  A spec that
is not a JSON object, or is already versioned, is left as it is.

Revision ID: 0018_typed_vm_spec
Revises: 0017_host_enrolment
Create Date: 2026-12-02 16:40:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0018_typed_vm_spec"
down_revision = "0017_host_enrolment"
branch_labels = None
depends_on = None
#: code of the previous revision still runs on this schema: it reads the same keys (now always
#: present) and ignores schema_version and leftover
backward_compatible = True

#: the fields of version 2 and their defaults, frozen here (the code's InstanceSpec may grow)
FIELDS: dict[str, Any] = {
    "context_method": "cloud-init", "context": {}, "ssh_keys": [], "user_data": None,
    "volatile_gb": [], "extra": {}, "requested_host": None, "requirements": "",
    "sched_policy": "", "batch": None, "ha": False, "networks": [], "nics": [], "inbound_ports": [],
    "marketplace_disks": [], "marketplace_file_locations": False, "prepared": None,
    "handle": None, "user_template": {},
}
NULLABLE = {"user_data", "requested_host", "batch", "prepared", "handle"}

vms = sa.table("vms", sa.column("id", sa.Integer), sa.column("spec", sa.JSON))


def to_v2(old: dict[str, Any]) -> dict[str, Any]:
    new: dict[str, Any] = {"schema_version": 2}
    for name, default in FIELDS.items():
        value = old.get(name)
        new[name] = default if value is None and name not in NULLABLE else value
    new["leftover"] = {k: v for k, v in old.items() if k not in FIELDS}
    return new


def to_v1(new: dict[str, Any]) -> dict[str, Any]:
    old = {k: v for k, v in new.items() if k not in ("schema_version", "leftover")}
    old.update(new.get("leftover") or {})
    return old


def _rewrite(convert: Any, wanted: Any) -> None:
    bind = op.get_bind()
    for vm_id, spec in bind.execute(sa.select(vms.c.id, vms.c.spec)).all():
        if isinstance(spec, dict) and wanted(spec):
            bind.execute(vms.update().where(vms.c.id == vm_id).values(spec=convert(spec)))


def upgrade() -> None:
    _rewrite(to_v2, lambda spec: "schema_version" not in spec)


def downgrade() -> None:
    _rewrite(to_v1, lambda spec: spec.get("schema_version") == 2)
