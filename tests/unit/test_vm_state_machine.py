"""Walk every (state, action) pair of the VM state machine."""

from __future__ import annotations

import pytest

from stratuslab.core.states import (
    ALLOWED,
    FAILURE_TWIN,
    TRANSITIONAL,
    VmAction,
    VmState,
    _build,
    allowed_from,
    next_state,
    step_done,
)

S, A = VmState, VmAction

EXPECTED = {
    (S.PENDING, A.DEPLOY): S.PROLOG,
    (S.PENDING, A.HOLD): S.HOLD,
    (S.HOLD, A.RELEASE): S.PENDING,
    (S.RUNNING, A.SHUTDOWN): S.SHUTDOWN,
    (S.RUNNING, A.POWEROFF): S.POWEROFF_PENDING,
    (S.RUNNING, A.SUSPEND): S.SAVE,
    (S.RUNNING, A.STOP): S.SAVE,
    (S.RUNNING, A.REBOOT): S.REBOOT,
    (S.SUSPENDED, A.RESUME): S.RESTORE,
    (S.SUSPENDED, A.START): S.RESTORE,
    (S.STOPPED, A.RESUME): S.RESTORE,
    (S.STOPPED, A.START): S.RESTORE,
    (S.POWEROFF, A.RESUME): S.BOOT,
    (S.POWEROFF, A.START): S.BOOT,
    (S.RUNNING, A.UNDEPLOY): S.UNDEPLOYING,
    (S.POWEROFF, A.UNDEPLOY): S.UNDEPLOYED,
    (S.UNDEPLOYED, A.RESUME): S.BOOT,
    (S.UNDEPLOYED, A.START): S.BOOT,
    (S.UNKNOWN, A.RESUME): S.BOOT,
    (S.UNKNOWN, A.REBOOT): S.REBOOT,
    (S.UNKNOWN, A.RESCHEDULE): S.PENDING,  # its host fenced: started elsewhere
    (S.UNKNOWN, A.SHUTDOWN): S.SHUTDOWN,
    (S.FAILED, A.RECOVER_RETRY): S.PENDING,
    (S.FAILED, A.RECOVER_DELETE): S.EPILOG,
}
for _state in S:
    if _state not in (S.DONE, S.EPILOG):
        EXPECTED[(_state, A.KILL)] = S.EPILOG
# the retry map, written out by hand (never read from the product's RETRY_OF)
for _twin, _step in ((S.PROLOG_FAILURE, S.PROLOG), (S.BOOT_FAILURE, S.BOOT),
                     (S.SHUTDOWN_FAILURE, S.SHUTDOWN), (S.SAVE_FAILURE, S.SAVE),
                     (S.RESTORE_FAILURE, S.RESTORE), (S.EPILOG_FAILURE, S.EPILOG)):
    EXPECTED[(_twin, A.RECOVER_RETRY)] = _step
    EXPECTED[(_twin, A.RECOVER_FAILURE)] = S.FAILED
    EXPECTED[(_twin, A.RECOVER_DELETE)] = S.EPILOG
EXPECTED.update({
    (S.PROLOG_FAILURE, A.RECOVER_SUCCESS): S.BOOT,
    (S.BOOT_FAILURE, A.RECOVER_SUCCESS): S.RUNNING,
    (S.SHUTDOWN_FAILURE, A.RECOVER_SUCCESS): S.EPILOG,
    (S.SAVE_FAILURE, A.RECOVER_SUCCESS): S.SUSPENDED,
    (S.RESTORE_FAILURE, A.RECOVER_SUCCESS): S.RUNNING,
    (S.EPILOG_FAILURE, A.RECOVER_SUCCESS): S.DONE,
})


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("action", list(A))
def test_every_pair_is_allowed_or_refused_as_specified(state: VmState, action: VmAction) -> None:
    assert next_state(state, action) == EXPECTED.get((state, action))


def test_table_has_no_pair_beyond_the_specification() -> None:
    assert dict(ALLOWED) == EXPECTED


def test_the_table_is_built_as_specified() -> None:
    # built again here, inside the test, so a mutation tool that swaps the builder sees it
    assert _build() == EXPECTED


def test_every_transitional_state_has_a_failure_twin_with_all_recover_actions() -> None:
    for state in TRANSITIONAL:
        twin = FAILURE_TWIN[state]
        for how in (A.RECOVER_RETRY, A.RECOVER_SUCCESS, A.RECOVER_FAILURE, A.RECOVER_DELETE):
            assert next_state(twin, how) is not None, (twin, how)


def test_done_is_final() -> None:
    assert all(next_state(S.DONE, a) is None for a in A)


def test_step_done_leads_transitional_states_to_stable_ones() -> None:
    assert step_done(S.PROLOG, A.DEPLOY) is S.BOOT
    assert step_done(S.BOOT, A.DEPLOY) is S.RUNNING
    assert step_done(S.SAVE, A.SUSPEND) is S.SUSPENDED
    assert step_done(S.SAVE, A.STOP) is S.STOPPED
    assert step_done(S.SHUTDOWN, A.SHUTDOWN) is S.EPILOG
    assert step_done(S.EPILOG, A.KILL) is S.DONE
    assert step_done(S.RESTORE, A.RESUME) is S.RUNNING
    assert step_done(S.REBOOT, A.REBOOT) is S.RUNNING
    assert step_done(S.POWEROFF_PENDING, A.POWEROFF) is S.POWEROFF
    with pytest.raises(ValueError, match="is not transitional"):
        step_done(S.RUNNING, A.KILL)


def test_allowed_from_lists_states_for_error_messages() -> None:
    assert allowed_from(A.SUSPEND) == [S.RUNNING]
