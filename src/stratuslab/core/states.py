"""The VM state machine, as data.

`ALLOWED` maps (state, action) to the state the VM enters when the action is accepted; it is the
single authority on what may happen to a VM.  `STEP_DONE` / `STEP_FAILED` say where a
transitional state leads when the job behind it finishes or fails.  Only the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class VmState(StrEnum):
    PENDING = "pending"
    HOLD = "hold"
    PROLOG = "prolog"
    BOOT = "boot"
    RUNNING = "running"
    SHUTDOWN = "shutdown"  # graceful stop in progress (ends in epilog)
    POWEROFF_PENDING = "poweroff-pending"  # graceful power-off in progress (ends in poweroff)
    SAVE = "save"  # memory being saved (ends in suspended or stopped)
    SUSPENDED = "suspended"  # memory saved on the host, host kept
    STOPPED = "stopped"  # memory saved, host released
    POWEROFF = "poweroff"  # powered off, disks kept on the host
    UNDEPLOYING = "undeploying"  # guest being powered off to give its host back (ends undeployed)
    UNDEPLOYED = "undeployed"  # powered off, disks kept, the host's capacity given back
    RESTORE = "restore"  # memory being restored
    REBOOT = "reboot"
    EPILOG = "epilog"
    DONE = "done"
    UNKNOWN = "unknown"  # the host stopped reporting the VM
    FAILED = "failed"  # a step failed and what it made was cleaned up
    # failure twins of transitional states: a step failed and needs a `recover` decision
    PROLOG_FAILURE = "prolog-failure"
    BOOT_FAILURE = "boot-failure"
    SHUTDOWN_FAILURE = "shutdown-failure"
    SAVE_FAILURE = "save-failure"
    RESTORE_FAILURE = "restore-failure"
    EPILOG_FAILURE = "epilog-failure"


class VmAction(StrEnum):
    DEPLOY = "deploy"  # internal: the scheduler places a pending VM
    RESCHEDULE = "reschedule"  # internal: a VM of a fenced host goes back to pending
    START = "start"  # boot a powered-off / stopped / suspended VM
    SHUTDOWN = "shutdown"  # graceful (ACPI) then terminate
    KILL = "kill"  # hard terminate from (almost) anywhere
    STOP = "stop"  # save memory and release the host
    SUSPEND = "suspend"  # save memory, keep the host
    RESUME = "resume"
    POWEROFF = "poweroff"
    UNDEPLOY = "undeploy"  # power off and give the host's capacity back; resume boots it again
    REBOOT = "reboot"
    HOLD = "hold"
    RELEASE = "release"
    RECOVER_RETRY = "recover-retry"
    RECOVER_SUCCESS = "recover-success"
    RECOVER_FAILURE = "recover-failure"
    RECOVER_DELETE = "recover-delete"


S, A = VmState, VmAction

TRANSITIONAL: frozenset[VmState] = frozenset(
    {S.PROLOG, S.BOOT, S.SHUTDOWN, S.POWEROFF_PENDING, S.UNDEPLOYING, S.SAVE, S.RESTORE,
     S.REBOOT, S.EPILOG}
)
TERMINAL: frozenset[VmState] = frozenset({S.DONE})

FAILURE_TWIN: Mapping[VmState, VmState] = {
    S.PROLOG: S.PROLOG_FAILURE,
    S.BOOT: S.BOOT_FAILURE,
    S.SHUTDOWN: S.SHUTDOWN_FAILURE,
    S.POWEROFF_PENDING: S.SHUTDOWN_FAILURE,
    S.UNDEPLOYING: S.SHUTDOWN_FAILURE,
    S.SAVE: S.SAVE_FAILURE,
    S.RESTORE: S.RESTORE_FAILURE,
    S.REBOOT: S.BOOT_FAILURE,
    S.EPILOG: S.EPILOG_FAILURE,
}
#: The transitional state a failure twin retries.
RETRY_OF: Mapping[VmState, VmState] = {
    S.PROLOG_FAILURE: S.PROLOG,
    S.BOOT_FAILURE: S.BOOT,
    S.SHUTDOWN_FAILURE: S.SHUTDOWN,
    S.SAVE_FAILURE: S.SAVE,
    S.RESTORE_FAILURE: S.RESTORE,
    S.EPILOG_FAILURE: S.EPILOG,
}
#: Where a failure twin goes when an admin declares the step succeeded.
SUCCESS_OF: Mapping[VmState, VmState] = {
    S.PROLOG_FAILURE: S.BOOT,
    S.BOOT_FAILURE: S.RUNNING,
    S.SHUTDOWN_FAILURE: S.EPILOG,
    S.SAVE_FAILURE: S.SUSPENDED,
    S.RESTORE_FAILURE: S.RUNNING,
    S.EPILOG_FAILURE: S.DONE,
}

_ALIVE_ON_HOST = (S.RUNNING, S.UNKNOWN)


def _build() -> dict[tuple[VmState, VmAction], VmState]:
    t: dict[tuple[VmState, VmAction], VmState] = {
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
        (S.POWEROFF, A.UNDEPLOY): S.UNDEPLOYED,  # already off: only the capacity goes back
        (S.UNDEPLOYED, A.RESUME): S.BOOT,
        (S.UNDEPLOYED, A.START): S.BOOT,
        (S.UNKNOWN, A.RESUME): S.BOOT,
        (S.UNKNOWN, A.REBOOT): S.REBOOT,
        (S.UNKNOWN, A.RESCHEDULE): S.PENDING,  # only once its host is fenced (hostfailure)
        (S.FAILED, A.RECOVER_RETRY): S.PENDING,
        (S.FAILED, A.RECOVER_DELETE): S.EPILOG,
    }
    # kill (terminate-hard) works from every state that is not already ending
    for state in S:
        if state not in (S.DONE, S.EPILOG):
            t[(state, A.KILL)] = S.EPILOG
    for state in _ALIVE_ON_HOST:
        t[(state, A.SHUTDOWN)] = S.SHUTDOWN
    for twin, transitional in RETRY_OF.items():
        t[(twin, A.RECOVER_RETRY)] = transitional
        t[(twin, A.RECOVER_SUCCESS)] = SUCCESS_OF[twin]
        t[(twin, A.RECOVER_FAILURE)] = S.FAILED
        t[(twin, A.RECOVER_DELETE)] = S.EPILOG
    return t


ALLOWED: Mapping[tuple[VmState, VmAction], VmState] = _build()

#: Actions a user may ask for (DEPLOY and RESCHEDULE are the scheduler's own).
USER_ACTIONS: frozenset[VmAction] = frozenset(a for a in A if a not in (A.DEPLOY, A.RESCHEDULE))


def allowed_from(action: VmAction) -> list[VmState]:
    """States from which `action` is accepted, in declaration order (for error messages)."""
    return [s for s in S if (s, action) in ALLOWED]


def next_state(state: VmState, action: VmAction) -> VmState | None:
    return ALLOWED.get((state, action))


#: Where a transitional state leads when its job finishes, given the action that started it.
def step_done(state: VmState, action: VmAction) -> VmState:
    if state is S.PROLOG:
        return S.BOOT
    if state in (S.BOOT, S.RESTORE, S.REBOOT):
        return S.RUNNING
    if state is S.SHUTDOWN:
        return S.EPILOG
    if state is S.POWEROFF_PENDING:
        return S.POWEROFF
    if state is S.UNDEPLOYING:
        return S.UNDEPLOYED
    if state is S.SAVE:
        return S.STOPPED if action is A.STOP else S.SUSPENDED
    if state is S.EPILOG:
        return S.DONE
    raise ValueError(f"{state} is not transitional")
