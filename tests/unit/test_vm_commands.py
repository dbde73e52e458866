"""VM lifecycle actions are command types (core/commands.py) that every front end builds from its
own wire names: REST paths, XML-RPC `one.vm.action`/`one.vm.recover`, OCCI action terms and the
CLI's commands all land on the same types, and an action that is not one is refused at the edge,
before anything is read or written."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stratuslab.api.occi.convert import COMPUTE_ACTIONS
from stratuslab.api.xmlrpc.codes import ACTION_NAMES
from stratuslab.api.xmlrpc.methods_more import RECOVER as XMLRPC_RECOVER
from stratuslab.bootstrap import Cloud
from stratuslab.cli.vms import ACTIONS as CLI_ACTIONS
from stratuslab.cli.vms import COMMANDS, _action_path
from stratuslab.cli.vms import RECOVER as CLI_RECOVER
from stratuslab.core.commands import VM_COMMANDS, KillVm, RecoverRetry, StopVm, vm_command
from stratuslab.core.entities import Principal
from stratuslab.core.errors import InvalidInput
from stratuslab.core.states import USER_ACTIONS, VmAction

ADMIN = ("admin", "adminpw")


def test_every_user_action_has_one_command_type_and_the_scheduler_s_deploy_none() -> None:
    assert set(VM_COMMANDS) == USER_ACTIONS
    assert all(cls.action is action for action, cls in VM_COMMANDS.items())
    assert VmAction.DEPLOY not in VM_COMMANDS


def test_every_front_end_builds_the_same_command_types() -> None:
    types = set(VM_COMMANDS.values())
    assert set(ACTION_NAMES.values()) | set(XMLRPC_RECOVER.values()) <= types
    assert set(COMPUTE_ACTIONS.values()) <= types
    cli = {cls for _, cls in CLI_ACTIONS} | set(CLI_RECOVER.values())
    assert cli == types  # the CLI names every lifecycle command
    assert _action_path(StopVm(7)) == "/api/v1/vms/7/actions/stop"
    assert _action_path(RecoverRetry(7)) == "/api/v1/vms/7/actions/recover-retry"


def test_the_cli_help_of_an_action_is_its_command_s_summary() -> None:
    commands = {c.name: c for c in COMMANDS}
    for name, cls in CLI_ACTIONS:
        assert commands[name].help == cls.summary


@pytest.mark.parametrize(("action", "message"), [
    ("fly", "action 'fly' is unknown"),
    ("deploy", "action deploy is reserved to the scheduler"),
    ("KILL", "action 'KILL' is unknown"),
    ("kill\x00", "is unknown"),
])
def test_an_action_that_is_no_command_is_refused_naming_the_choices(action: str,
                                                                    message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as err:
        vm_command(action, 1)
    if action != "deploy":
        assert err.value.hint == "use one of " + ", ".join(sorted(a.value for a in USER_ACTIONS))


@pytest.mark.parametrize("vm_id", ["1", True, 1.0, None])
def test_a_command_refuses_a_vm_id_that_is_not_a_number(vm_id: object) -> None:
    with pytest.raises(InvalidInput, match="is not a number"):
        KillVm(vm_id)  # type: ignore[arg-type]


def test_rest_refuses_a_non_command_before_touching_the_vm(cloud: Cloud, admin: Principal,
                                                           tmp_path: Path) -> None:
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 4096)
    image = cloud.images.register(admin, "base", str(disk), public=True)
    http = TestClient(cloud.app)
    made = http.post("/api/v1/vms", json={"image": image.id, "type": "t1.micro"}, auth=ADMIN)
    assert made.status_code == 202, made.text
    vm_id = made.json()["vms"][0]["id"]
    jobs_before = http.get("/api/v1/jobs", auth=ADMIN).json()["items"]
    for action in ("deploy", "fly", "x" * 5000):
        resp = http.post(f"/api/v1/vms/{vm_id}/actions/{action}", auth=ADMIN)
        assert resp.status_code == 400, (action[:10], resp.text[:200])
    assert http.get("/api/v1/jobs", auth=ADMIN).json()["items"] == jobs_before
    assert http.get(f"/api/v1/vms/{vm_id}", auth=ADMIN).json()["state"] == "pending"
    hold = http.post(f"/api/v1/vms/{vm_id}/actions/hold", auth=ADMIN)
    assert hold.status_code == 202 and hold.json()["vm"]["state"] == "hold"
