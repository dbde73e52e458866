"""`Vm.spec` is a typed, versioned `InstanceSpec` (core/vmspec.py): migration 0018 rewrites the
free dictionaries earlier revisions stored (schema 1) into schema 2, keeping every value and
moving keys no field takes under "leftover"; downgrading gives the old shape back; a schema-1
row the migration has not seen still reads; a newer schema is refused by name.  On SQLite and
on a real PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from stratuslab.core.errors import Conflict
from stratuslab.core.vmspec import SPEC_SCHEMA, InstanceSpec
from stratuslab.persistence import db
from stratuslab.persistence import tables as t
from stratuslab.persistence.repos import VmRepo

BEFORE = "0017_host_enrolment"
#: what a VM row of the sessions before the typed spec held (keys as their writers wrote them)
OLD_SHAPE: dict[str, Any] = {
    "context_method": "context-cd", "context": {"GREETING": "hi"}, "ssh_keys": ["ssh-ed25519 k"],
    "user_data": None, "volatile_gb": [2], "extra": {"fail": "start"},
    "networks": [{"network": "public", "ip": "10.0.0.5", "mac": "02:00:0a:00:00:05"}],
    "nics": [{"network": "public", "secgroups": ["web"]}], "inbound_ports": [22],
    "marketplace_disks": ["GXa5e7b9lgO1c2f3Nq3YEjFvJbE"], "marketplace_file_locations": True,
    "prepared": {"instance_dir": "/srv/i/7", "disks": [], "nics": [], "boot": {}},
    "handle": {"host": "node-1", "data": {"pid": 4242}},
    "user_template": {"OWNER_NOTE": "x"}, "requested_host": "node-1",
    "host_id": 3,  # a key no field takes: kept under leftover
}


#: the image columns of revision BEFORE (today's ImageRepo may write columns added since)
_IMAGES = sa.table("images", sa.column("inbound_ports", sa.JSON), *(sa.column(name) for name in (
    "id", "name", "owner", "group", "path", "format", "size_bytes", "sha1", "state", "public")))


def insert_vm(engine: Engine, spec: Any) -> int:
    with engine.begin() as conn:
        image_id = conn.execute(_IMAGES.insert().values(
            name="base", owner="alice", group="users", path="/i", format="raw", size_bytes=1,
            sha1="0" * 40, state="ready", public=False, inbound_ports=[],
        ).returning(_IMAGES.c.id)).scalar_one()
        row = {"name": "old", "owner": "alice", "group": "users", "state": "running",
               "image_id": image_id, "instance_type": "m1.small", "vcpu": 1, "memory_mib": 128,
               "swap_mib": 0, "spec": spec}
        return int(conn.execute(t.vms.insert().values(**row)).inserted_primary_key[0])


def raw_spec(engine: Engine, vm_id: int) -> Any:
    vms = sa.table("vms", sa.column("id", sa.Integer), sa.column("spec", sa.JSON))
    with engine.connect() as conn:
        return conn.execute(sa.select(vms.c.spec).where(vms.c.id == vm_id)).scalar_one()


def test_old_shape_specs_upgrade_to_the_typed_spec_and_downgrade_back(engine: Engine) -> None:
    db.upgrade(engine, BEFORE)
    vm_id = insert_vm(engine, OLD_SHAPE)
    db.upgrade(engine, "head")
    stored = raw_spec(engine, vm_id)
    assert stored["schema_version"] == SPEC_SCHEMA == 2
    assert stored["leftover"] == {"host_id": 3}
    assert stored["requirements"] == "" and stored["sched_policy"] == ""  # defaults filled in
    with engine.connect() as conn:
        vm = VmRepo(conn).get(vm_id)
    assert vm is not None
    spec = vm.spec
    assert isinstance(spec, InstanceSpec)
    assert (spec.context_method, dict(spec.context), list(spec.ssh_keys)) == (
        "context-cd", {"GREETING": "hi"}, ["ssh-ed25519 k"])
    assert spec.handle == {"host": "node-1", "data": {"pid": 4242}}
    assert [n["secgroups"] for n in spec.nics] == [["web"]] and list(spec.inbound_ports) == [22]
    assert spec.marketplace_file_locations is True and spec.requested_host == "node-1"
    assert spec.prepared == OLD_SHAPE["prepared"] and dict(spec.extra) == {"fail": "start"}
    db.downgrade(engine, BEFORE)
    back = raw_spec(engine, vm_id)
    assert "schema_version" not in back and "leftover" not in back
    assert {k: back[k] for k in OLD_SHAPE} == OLD_SHAPE


def test_a_typed_spec_written_and_changed_through_the_repository_round_trips(
        engine: Engine) -> None:
    db.upgrade(engine, "head")
    vm_id = insert_vm(engine, InstanceSpec(ssh_keys=("k",), context={"A": "1"}))
    with engine.begin() as conn:
        repo = VmRepo(conn)
        vm = repo.get(vm_id)
        assert vm is not None
        changed = vm.spec.with_(handle={"host": "h", "data": {}}, prev_state="poweroff")
        assert repo.cas_state(vm_id, "running", "running", spec=changed)
    with engine.connect() as conn:
        again = VmRepo(conn).get(vm_id)
    assert again is not None and again.spec.handle == {"host": "h", "data": {}}
    assert again.spec.prev_state is None  # a view the XML-RPC adapter fills, never stored
    assert raw_spec(engine, vm_id)["schema_version"] == SPEC_SCHEMA


def test_a_schema_1_row_reads_and_a_newer_schema_is_refused_naming_it() -> None:
    spec = InstanceSpec.from_json(OLD_SHAPE)
    assert spec.leftover == {"host_id": 3} and list(spec.volatile_gb) == [2]
    assert InstanceSpec.from_json(spec.to_json()) == spec
    assert InstanceSpec.from_json(None) == InstanceSpec()
    with pytest.raises(Conflict, match="spec schema 3, newer than this server's 2"):
        InstanceSpec.from_json({"schema_version": 3})
