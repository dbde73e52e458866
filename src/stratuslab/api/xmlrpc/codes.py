"""Every OpenNebula number and name the XML-RPC adapter speaks, each in exactly one table.

* `VM_STATE_NUMBERS`: our VmState -> OpenNebula (STATE, LCM_STATE);
* `ACTION_NAMES`: the `one.vm.action` names of OpenNebula 3.x and of 5.x+ -> our command type;
* `ERROR_CODES`: CloudError kinds -> OpenNebula error codes, and `fault()` builds the
  ``[False, message, code]`` response.

Numbers are those of OpenNebula's VirtualMachine.h / share/doc/xsd/vm.xsd.  Imports only core.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum

from stratuslab.core.commands import (
    HoldVm,
    KillVm,
    PoweroffVm,
    RebootVm,
    RecoverRetry,
    ReleaseVm,
    ResumeVm,
    ShutdownVm,
    StartVm,
    StopVm,
    SuspendVm,
    UndeployVm,
    VmCommand,
)
from stratuslab.core.errors import CloudError, ErrorKind
from stratuslab.core.states import VmAction, VmState


class OneState(IntEnum):
    INIT = 0
    PENDING = 1
    HOLD = 2
    ACTIVE = 3
    STOPPED = 4
    SUSPENDED = 5
    DONE = 6
    FAILED = 7  # 3.x only; later lines use ACTIVE + a *_FAILURE LCM state
    POWEROFF = 8
    UNDEPLOYED = 9


class Lcm(IntEnum):
    LCM_INIT = 0
    PROLOG = 1
    BOOT = 2
    RUNNING = 3
    SAVE_STOP = 5
    SAVE_SUSPEND = 6
    EPILOG = 11
    SHUTDOWN = 12
    FAILURE = 14  # 3.x generic failure; used for failures OpenNebula has no twin for
    UNKNOWN = 16
    SHUTDOWN_POWEROFF = 18
    SHUTDOWN_UNDEPLOY = 29
    BOOT_SUSPENDED = 21
    BOOT_FAILURE = 36
    PROLOG_FAILURE = 39
    EPILOG_FAILURE = 40
    BOOT_STOPPED_FAILURE = 48


S = VmState
#: The one table from our states to OpenNebula's (STATE, LCM_STATE) pair.
VM_STATE_NUMBERS: Mapping[VmState, tuple[OneState, Lcm]] = {
    S.PENDING: (OneState.PENDING, Lcm.LCM_INIT),
    S.HOLD: (OneState.HOLD, Lcm.LCM_INIT),
    S.PROLOG: (OneState.ACTIVE, Lcm.PROLOG),
    S.BOOT: (OneState.ACTIVE, Lcm.BOOT),
    S.RUNNING: (OneState.ACTIVE, Lcm.RUNNING),
    S.REBOOT: (OneState.ACTIVE, Lcm.RUNNING),  # OpenNebula reboots without leaving RUNNING
    S.SHUTDOWN: (OneState.ACTIVE, Lcm.SHUTDOWN),
    S.POWEROFF_PENDING: (OneState.ACTIVE, Lcm.SHUTDOWN_POWEROFF),
    S.SAVE: (OneState.ACTIVE, Lcm.SAVE_SUSPEND),
    S.RESTORE: (OneState.ACTIVE, Lcm.BOOT_SUSPENDED),
    S.EPILOG: (OneState.ACTIVE, Lcm.EPILOG),
    S.SUSPENDED: (OneState.SUSPENDED, Lcm.LCM_INIT),
    S.STOPPED: (OneState.STOPPED, Lcm.LCM_INIT),
    S.POWEROFF: (OneState.POWEROFF, Lcm.LCM_INIT),
    S.UNDEPLOYING: (OneState.ACTIVE, Lcm.SHUTDOWN_UNDEPLOY),
    S.UNDEPLOYED: (OneState.UNDEPLOYED, Lcm.LCM_INIT),
    S.DONE: (OneState.DONE, Lcm.LCM_INIT),
    S.UNKNOWN: (OneState.ACTIVE, Lcm.UNKNOWN),
    S.FAILED: (OneState.FAILED, Lcm.LCM_INIT),
    S.PROLOG_FAILURE: (OneState.ACTIVE, Lcm.PROLOG_FAILURE),
    S.BOOT_FAILURE: (OneState.ACTIVE, Lcm.BOOT_FAILURE),
    S.EPILOG_FAILURE: (OneState.ACTIVE, Lcm.EPILOG_FAILURE),
    S.RESTORE_FAILURE: (OneState.ACTIVE, Lcm.BOOT_STOPPED_FAILURE),
    S.SHUTDOWN_FAILURE: (OneState.ACTIVE, Lcm.FAILURE),
    S.SAVE_FAILURE: (OneState.ACTIVE, Lcm.FAILURE),
}

#: A save started by `stop` shows as SAVE_STOP rather than SAVE_SUSPEND.
SAVE_FOR_STOP = (OneState.ACTIVE, Lcm.SAVE_STOP)


def state_numbers(state: VmState, last_action: str | None = None) -> tuple[int, int]:
    if state is S.SAVE and last_action == VmAction.STOP.value:
        return int(SAVE_FOR_STOP[0]), int(SAVE_FOR_STOP[1])
    one, lcm = VM_STATE_NUMBERS.get(state, (OneState.ACTIVE, Lcm.UNKNOWN))
    return int(one), int(lcm)


def states_for_filter(one_state: int) -> tuple[VmState, ...] | None:
    """`one.vmpool.info`'s state argument: -2 any, -1 any but DONE, >= 0 one OpenNebula STATE.

    None means "no state restriction"; an empty tuple matches nothing.
    """
    if one_state == -2:
        return None
    if one_state == -1:
        return tuple(s for s in VmState if s is not S.DONE)
    return tuple(s for s, (one, _) in VM_STATE_NUMBERS.items() if one == one_state)


#: `one.vm.action` names, OpenNebula 3.x/4.x and 5.x+, -> our command type.
ACTION_NAMES: Mapping[str, type[VmCommand]] = {
    # 3.x / 4.x
    "shutdown": ShutdownVm,
    "shutdown-hard": KillVm,
    "cancel": KillVm,
    "finalize": KillVm,
    "delete": KillVm,
    "hold": HoldVm,
    "release": ReleaseVm,
    "stop": StopVm,
    "suspend": SuspendVm,
    "resume": ResumeVm,
    "restart": RebootVm,
    "reboot": RebootVm,
    "resubmit": RecoverRetry,
    "poweroff": PoweroffVm,
    "poweroff-hard": PoweroffVm,
    # 5.x and later
    "terminate": ShutdownVm,
    "terminate-hard": KillVm,
    "undeploy": UndeployVm,
    "undeploy-hard": UndeployVm,
    "reboot-hard": RebootVm,
    "reset": RebootVm,
    "boot": StartVm,
    "start": StartVm,
}


def action_for(name: str) -> type[VmCommand] | None:
    return ACTION_NAMES.get(name.strip().lower())


class OneError(IntEnum):
    SUCCESS = 0x0000
    AUTHENTICATION = 0x0100
    AUTHORIZATION = 0x0200
    NO_EXISTS = 0x0400
    ACTION = 0x0800
    XML_RPC_API = 0x1000
    INTERNAL = 0x2000


#: The one place where CloudError kinds become OpenNebula error codes.
ERROR_CODES: Mapping[ErrorKind, OneError] = {
    ErrorKind.INVALID: OneError.ACTION,
    ErrorKind.NOT_FOUND: OneError.NO_EXISTS,
    ErrorKind.STATE: OneError.ACTION,
    ErrorKind.CONFLICT: OneError.ACTION,
    ErrorKind.QUOTA: OneError.ACTION,
    ErrorKind.AUTHENTICATION: OneError.AUTHENTICATION,
    ErrorKind.FORBIDDEN: OneError.AUTHORIZATION,
    ErrorKind.DRIVER: OneError.INTERNAL,
    ErrorKind.INTERNAL: OneError.INTERNAL,
    ErrorKind.UNAVAILABLE: OneError.INTERNAL,
    ErrorKind.UNSUPPORTED: OneError.ACTION,
}


def fault(message: str, code: OneError) -> list[object]:
    """OpenNebula's error response: [success=False, message, code]."""
    return [False, message, int(code)]


def error_response(method: str, exc: CloudError) -> list[object]:
    code = ERROR_CODES.get(exc.kind, OneError.INTERNAL)
    return fault(f"[{method}] {exc.full_message}", code)


def success(result: object) -> list[object]:
    return [True, result, int(OneError.SUCCESS)]
