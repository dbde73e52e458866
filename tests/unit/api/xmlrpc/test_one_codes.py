"""OpenNebula numbers: state pairs, action names, error codes."""

from __future__ import annotations

import pyone
import pytest

from stratuslab.api.xmlrpc.codes import (
    ACTION_NAMES,
    ERROR_CODES,
    VM_STATE_NUMBERS,
    OneError,
    action_for,
    error_response,
    state_numbers,
    states_for_filter,
)
from stratuslab.core.errors import (
    AuthenticationFailed,
    ErrorKind,
    Forbidden,
    InvalidState,
    NotFound,
)
from stratuslab.core.states import USER_ACTIONS, VmAction, VmState


def test_every_vm_state_has_an_opennebula_pair() -> None:
    assert set(VM_STATE_NUMBERS) == set(VmState)


@pytest.mark.parametrize(
    ("state", "pair"),
    [
        (VmState.PENDING, (1, 0)),
        (VmState.HOLD, (2, 0)),
        (VmState.PROLOG, (3, 1)),
        (VmState.BOOT, (3, 2)),
        (VmState.RUNNING, (3, 3)),
        (VmState.SHUTDOWN, (3, 12)),
        (VmState.EPILOG, (3, 11)),
        (VmState.STOPPED, (4, 0)),
        (VmState.SUSPENDED, (5, 0)),
        (VmState.DONE, (6, 0)),
        (VmState.POWEROFF, (8, 0)),
        (VmState.UNKNOWN, (3, 16)),
    ],
)
def test_state_pairs_match_opennebula(state: VmState, pair: tuple[int, int]) -> None:
    assert state_numbers(state) == pair


def test_failure_twins_use_opennebula_failure_lcm_states_by_name() -> None:
    names = {
        VmState.PROLOG_FAILURE: "PROLOG_FAILURE",
        VmState.BOOT_FAILURE: "BOOT_FAILURE",
        VmState.EPILOG_FAILURE: "EPILOG_FAILURE",
        VmState.RESTORE_FAILURE: "BOOT_STOPPED_FAILURE",
        VmState.SHUTDOWN_FAILURE: "FAILURE",
        VmState.SAVE_FAILURE: "FAILURE",
    }
    for ours, theirs in names.items():
        state, lcm = state_numbers(ours)
        assert state == pyone.VM_STATE.ACTIVE
        assert lcm == pyone.LCM_STATE[theirs]  # pyone's enumeration agrees with our numbers


def test_save_started_by_stop_shows_save_stop() -> None:
    assert state_numbers(VmState.SAVE, "stop") == (3, pyone.LCM_STATE.SAVE_STOP)
    assert state_numbers(VmState.SAVE, "suspend") == (3, pyone.LCM_STATE.SAVE_SUSPEND)


def test_state_filter_minus_one_excludes_done_and_minus_two_is_everything() -> None:
    assert states_for_filter(-2) is None
    not_done = states_for_filter(-1)
    assert not_done is not None and VmState.DONE not in not_done
    assert set(states_for_filter(3) or ()) >= {VmState.RUNNING, VmState.BOOT, VmState.UNKNOWN}
    assert states_for_filter(8) == (VmState.POWEROFF,)


@pytest.mark.parametrize(
    ("name", "action"),
    [
        ("shutdown", VmAction.SHUTDOWN),
        ("finalize", VmAction.KILL),
        ("restart", VmAction.REBOOT),
        ("resubmit", VmAction.RECOVER_RETRY),
        ("stop", VmAction.STOP),
        ("suspend", VmAction.SUSPEND),
        ("resume", VmAction.RESUME),
        ("hold", VmAction.HOLD),
        ("release", VmAction.RELEASE),
        ("poweroff", VmAction.POWEROFF),
        ("terminate", VmAction.SHUTDOWN),
        ("terminate-hard", VmAction.KILL),
        ("undeploy", VmAction.UNDEPLOY),
        ("reboot-hard", VmAction.REBOOT),
        ("POWEROFF", VmAction.POWEROFF),
    ],
)
def test_action_names_of_both_generations_map_to_our_actions(name: str, action: VmAction) -> None:
    command = action_for(name)
    assert command is not None and command.action is action


def test_every_mapped_action_is_a_user_action() -> None:
    assert {command.action for command in ACTION_NAMES.values()} <= USER_ACTIONS
    assert action_for("explode") is None


def test_every_error_kind_has_a_code() -> None:
    assert set(ERROR_CODES) == set(ErrorKind)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (AuthenticationFailed(), 0x100),
        (Forbidden("VM 3 belongs to bob"), 0x200),
        (NotFound("VM", 9), 0x400),
        (
            InvalidState(what="VM", name=1, state="done", action="poweroff", allowed="running"),
            0x800,
        ),
    ],
)
def test_errors_become_false_message_code(error: Exception, code: int) -> None:
    response = error_response("one.vm.action", error)  # type: ignore[arg-type]
    assert response[0] is False and response[2] == code == OneError(code)
    assert str(response[1]).startswith("[one.vm.action] ")
