"""No id is ever given to a second object, even after the newest one is deleted (OpenNebula
never reuses ids; audit logs, accounting and quarantine refer to them): users, groups, VM
templates and VMs, through the services and over XML-RPC."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from stratuslab.bootstrap import Cloud
from stratuslab.core.entities import Principal
from stratuslab.persistence import db
from stratuslab.services.templates import TemplateService


def test_deleting_the_newest_user_group_or_template_does_not_free_its_id(
    cloud: Cloud, admin: Principal
) -> None:
    ids = cloud.identity
    first = ids.create_user(admin, "u1", "pw-pw-pw-1").id
    ids.delete_user(admin, first or 0)
    second = ids.create_user(admin, "u2", "pw-pw-pw-2").id
    ids.delete_user(admin, second or 0)
    third = ids.create_user(admin, "u3", "pw-pw-pw-3").id
    assert first is not None and second is not None and third is not None
    assert first < second < third

    g1 = ids.create_group(admin, "g1").id
    ids.delete_group(admin, "g1")
    g2 = ids.create_group(admin, "g2").id
    assert g1 is not None and g2 is not None and g2 > g1

    w = cloud
    templates = TemplateService(w.uow, w.clock)
    t1 = templates.create(admin, "t1", 'NAME="t1"').id
    templates.delete(admin, t1 or 0)
    t2 = templates.create(admin, "t2", 'NAME="t2"').id
    assert t1 is not None and t2 is not None and t2 > t1


def test_a_database_upgraded_with_rows_never_hands_out_a_deleted_id(tmp_path: Path) -> None:
    """SQLite: rows made at revision 0007 are copied into AUTOINCREMENT tables by 0008, whose
    counter starts at the largest id; a deleted newest row's id does not come back."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'cloud.db'}")
    db.upgrade(engine, "0007_job_request_id")
    with engine.begin() as conn:
        for name in ("a", "b", "c"):
            conn.execute(text("INSERT INTO groups (name) VALUES (:n)"), {"n": name})
    db.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM groups WHERE name = 'c'"))
        conn.execute(text("INSERT INTO groups (name) VALUES ('d')"))
        ids = dict(conn.execute(text("SELECT name, id FROM groups")).all())
    engine.dispose()
    assert ids == {"a": 1, "b": 2, "d": 4}


def test_a_user_who_still_owns_live_vms_is_not_deleted(cloud: Cloud, admin: Principal) -> None:
    """VMs are owned by name: deleting their owner would orphan them (and a new user of that
    name would inherit them); the refusal names the VMs and the way out."""
    import pytest

    from stratuslab.core.commands import RunInstance
    from stratuslab.core.errors import Conflict

    bob = cloud.identity.create_user(admin, "bob", "pw-pw-pw-b")
    bob_p = cloud.identity.check_password("bob", "pw-pw-pw-b")
    image = cloud.images.register(admin, "base", __file__, public=True)
    assert image.id is not None and bob.id is not None
    vm = cloud.compute.run(bob_p, RunInstance(image_id=image.id))[0][0]
    with pytest.raises(Conflict, match=f"user bob still owns VMs {vm.id}"):
        cloud.identity.delete_user(admin, bob.id)
    assert cloud.identity.get_user(admin, bob.id).name == "bob"
