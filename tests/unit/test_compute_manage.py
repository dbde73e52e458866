"""VM management use cases beyond the life cycle: rename, chown, user template, deploy on a
chosen host, migrate (refused honestly), host enable/disable, image enable, user chgrp."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.helpers.cloud import drain

from stratuslab.bootstrap import Cloud
from stratuslab.core.commands import RunInstance, vm_command
from stratuslab.core.entities import Principal, Vm
from stratuslab.core.errors import Conflict, Forbidden, InvalidInput, InvalidState, NotFound
from stratuslab.services.placement import Placement


def image(cloud: Cloud, who: Principal, tmp_path: Path) -> int:
    f = tmp_path / "disk.raw"
    f.write_bytes(b"\0" * 4096)
    img = cloud.images.register(who, "base", str(f))
    assert img.id is not None
    return img.id


@pytest.fixture
def alice(cloud: Cloud, admin: Principal) -> Principal:
    cloud.identity.create_user(admin, "alice", "alicepw")
    return cloud.identity.check_password("alice", "alicepw")


def messages(cloud: Cloud, who: Principal, vm_id: int) -> list[str]:
    return [e.message for e in cloud.compute.events(who, vm_id)]


def test_rename_validates_the_name_and_logs_an_event(
    cloud: Cloud, admin: Principal, tmp_path: Path
) -> None:
    [(vm, _)] = cloud.compute.run(admin, RunInstance(image(cloud, admin, tmp_path), name="web"))
    assert cloud.compute.rename(admin, vm.id, "db").name == "db"
    assert cloud.compute.get(admin, vm.id).name == "db"
    assert "rename: web -> db" in messages(cloud, admin, vm.id)
    with pytest.raises(InvalidInput, match="not a valid host name"):
        cloud.compute.rename(admin, vm.id, "bad name!")
    assert cloud.compute.get(admin, vm.id).name == "db"


def test_chown_is_for_admins_and_moves_the_vm_to_the_new_owner(
    cloud: Cloud, admin: Principal, alice: Principal, tmp_path: Path
) -> None:
    [(vm, _)] = cloud.compute.run(admin, RunInstance(image(cloud, admin, tmp_path)))
    assert alice.user_id is not None
    with pytest.raises(Forbidden):
        cloud.compute.chown(alice, vm.id, owner=alice.user_id)
    with pytest.raises(NotFound):
        cloud.compute.chown(admin, vm.id, owner=9999)
    cloud.compute.chown(admin, vm.id, owner=alice.user_id)
    assert cloud.compute.get(alice, vm.id).owner == "alice"
    assert any(m.startswith("chown: alice") for m in messages(cloud, admin, vm.id))


def test_user_template_is_replaced_or_merged(cloud: Cloud, admin: Principal, tmp_path: Path) -> None:
    [(vm, _)] = cloud.compute.run(admin, RunInstance(image(cloud, admin, tmp_path)))
    cloud.compute.update_user_template(admin, vm.id, {"A": "1", "B": "2"}, merge=False)
    cloud.compute.update_user_template(admin, vm.id, {"B": "3", "C": "4"}, merge=True)
    assert cloud.compute.get(admin, vm.id).spec.user_template == {"A": "1", "B": "3", "C": "4"}
    cloud.compute.update_user_template(admin, vm.id, {"D": "5"}, merge=False)
    assert cloud.compute.get(admin, vm.id).spec.user_template == {"D": "5"}
    with pytest.raises(InvalidInput):
        cloud.compute.update_user_template(admin, vm.id, {"no good": "x"}, merge=False)
    assert cloud.compute.get(admin, vm.id).spec.user_template == {"D": "5"}


def test_deploy_releases_a_held_vm_onto_the_chosen_host(
    cloud: Cloud, admin: Principal, alice: Principal, tmp_path: Path
) -> None:
    [(vm, _)] = cloud.compute.run(admin, RunInstance(image(cloud, admin, tmp_path), hold=True))
    with pytest.raises(NotFound):
        cloud.compute.deploy(admin, vm.id, "nowhere")
    with pytest.raises(Forbidden):
        cloud.compute.deploy(alice, vm.id, "localhost")
    assert cloud.compute.get(admin, vm.id).state == "hold"
    cloud.compute.deploy(admin, vm.id, "localhost")
    drain(cloud)
    done = cloud.compute.get(admin, vm.id)
    assert (done.state, done.host) == ("running", "localhost")
    with pytest.raises(InvalidState):
        cloud.compute.deploy(admin, vm.id, "localhost")


def test_migrate_refuses_honestly(cloud: Cloud, admin: Principal, tmp_path: Path) -> None:
    [(vm, _)] = cloud.compute.run(admin, RunInstance(image(cloud, admin, tmp_path)))
    drain(cloud)
    with pytest.raises(Conflict, match="already runs on host localhost"):
        cloud.compute.migrate(admin, vm.id, "localhost")
    with pytest.raises(NotFound):
        cloud.compute.migrate(admin, vm.id, "elsewhere")


def test_disabled_hosts_refuse_new_vms_and_a_race_leaves_the_vm_pending_with_the_reason(
    cloud: Cloud, admin: Principal, alice: Principal, tmp_path: Path
) -> None:
    img = image(cloud, admin, tmp_path)
    with pytest.raises(Forbidden):
        cloud.compute.set_host_enabled(alice, "localhost", False)
    [(queued, _)] = cloud.compute.run(admin, RunInstance(img))
    cloud.compute.set_host_enabled(admin, "localhost", False)
    with pytest.raises(Conflict, match="every host is disabled"):
        cloud.compute.run(admin, RunInstance(img))
    [(held, _)] = cloud.compute.run(admin, RunInstance(img, hold=True))  # holding needs no host
    with pytest.raises(Conflict, match="disabled"):
        cloud.compute.deploy(admin, held.id, "localhost")
    drain(cloud)
    waiting = cloud.compute.get(admin, queued.id)
    assert waiting.state == "pending"  # not failed: it runs once a host can take it
    assert f"no host can run VM {queued.id}: localhost: state: disabled" in (waiting.error or "")
    assert any("localhost: state: disabled" in e.message
               for e in cloud.compute.events(admin, queued.id))  # the reason in its event log
    cloud.compute.set_host_enabled(admin, "localhost", True)
    cloud.compute.deploy(admin, held.id, "localhost")
    assert cloud.scheduler is not None
    cloud.scheduler.place_many([waiting], served=None, queue_jobs=True)  # the leader's loop
    drain(cloud)
    assert cloud.compute.get(admin, held.id).state == "running"
    assert cloud.compute.get(admin, queued.id).state == "running"


def test_placement_skips_disabled_nodes_and_honours_a_requested_host() -> None:
    nodes: dict[str, Any] = {"a": object(), "b": object()}
    place = Placement(nodes)
    vm = Vm(7, "x", "o", "g", "pending", 1, "m1.small", 1, 128)
    assert place.choose(vm) == "a"
    place.set_enabled("a", False)
    assert place.choose(vm) == "b"
    vm.spec = vm.spec.with_(requested_host="a")
    with pytest.raises(Conflict, match="host a asked for by VM 7 is disabled"):
        place.choose(vm)
    with pytest.raises(NotFound):
        place.set_enabled("c", False)


def test_disabled_image_refuses_new_vms_until_enabled(
    cloud: Cloud, admin: Principal, alice: Principal, tmp_path: Path
) -> None:
    img = image(cloud, admin, tmp_path)
    cloud.images.set_enabled(admin, img, False)
    assert cloud.images.get(admin, img).state == "disabled"
    with pytest.raises(InvalidState, match="image .* is disabled"):
        cloud.compute.run(admin, RunInstance(img))
    assert cloud.compute.list(admin)[1] == 0
    cloud.images.set_enabled(admin, img, True)
    cloud.compute.run(admin, RunInstance(img))


def test_chgrp_makes_the_group_primary_and_keeps_the_others(
    cloud: Cloud, admin: Principal, alice: Principal
) -> None:
    cloud.identity.create_group(admin, "physics")
    with pytest.raises(Forbidden):
        cloud.identity.set_primary_group(alice, "alice", "physics")
    with pytest.raises(NotFound):
        cloud.identity.set_primary_group(admin, "alice", "nogroup")
    user = cloud.identity.set_primary_group(admin, "alice", "physics")
    assert user.groups == ["physics", "users"]
    assert cloud.identity.get_user(admin, "alice").primary_group == "physics"


def test_resize_changes_a_powered_off_vm_and_the_resume_boots_with_it(
    cloud: Cloud, admin: Principal, tmp_path: Path
) -> None:
    [(vm, _)] = cloud.compute.run(admin, RunInstance(image(cloud, admin, tmp_path), cpu=1,
                                                     ram_mib=256))
    drain(cloud)
    with pytest.raises(InvalidState, match="is running; cannot change its CPUs or memory"):
        cloud.compute.resize(admin, vm.id, cpu=2)
    cloud.compute.act(admin, vm_command("poweroff", vm.id))
    drain(cloud)
    with pytest.raises(InvalidInput, match="out of range"):
        cloud.compute.resize(admin, vm.id, ram_mib=8)
    resized = cloud.compute.resize(admin, vm.id, cpu=2, ram_mib=512)
    assert (resized.vcpu, resized.memory_mib) == (2, 512)
    assert "resize: 1 CPU, 256 MiB -> 2 CPU, 512 MiB" in messages(cloud, admin, vm.id)
    cloud.compute.act(admin, vm_command("resume", vm.id))
    drain(cloud)
    back = cloud.compute.get(admin, vm.id)
    assert (back.state, back.vcpu, back.memory_mib) == ("running", 2, 512)
