"""Commands: the one vocabulary every front end builds (REST, XML-RPC, OCCI, CLI).

Only the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from stratuslab.core.errors import InvalidInput
from stratuslab.core.states import USER_ACTIONS, VmAction


@dataclass(frozen=True, slots=True)
class RunInstance:
    image_id: int
    instance_type: str | None = None
    count: int = 1
    cpu: int | None = None
    ram_mib: int | None = None
    swap_mib: int | None = None
    name: str | None = None
    idempotency_key: str | None = None
    hold: bool = False
    context_method: str = "cloud-init"
    context: Mapping[str, str] = field(default_factory=dict)
    ssh_keys: tuple[str, ...] = ()
    user_data: str | None = None
    volatile_gb: tuple[int, ...] = ()
    #: NIC requests, each {"network": name, "ip": address} (either may be absent)
    nics: tuple[Mapping[str, str], ...] = ()
    persistent_disks: tuple[str, ...] = ()  # volume UUIDs attached at launch
    readonly_disks: tuple[str, ...] = ()  # volume UUIDs or marketplace ids, read-only
    #: a marketplace identifier (27 characters) instead of image_id
    image_ref: str | None = None
    #: where it may run: a requirement expression over host attributes (core.requirements)
    requirements: str = ""
    #: how hosts are ranked for it: pack, stripe or load (or OpenNebula's SCHED_RANK forms);
    #: empty: the cloud's [scheduler] policy
    rank: str = ""
    #: high availability: restarted on another host once its failed host is fenced
    ha: bool = False
    #: backend hints that are not part of the public model (e.g. simulated failure injection)
    extra: Mapping[str, Any] = field(default_factory=dict)


# ---- VM lifecycle actions ------------------------------------------------------------------
# One small type per action a caller may ask for.  Front ends build them from their wire names
# (REST path, one.vm.action / one.vm.recover, OCCI action terms, the CLI's commands) with
# `vm_command` or the class itself, so an unknown action is refused at the edge; the compute
# service takes nothing else (`ComputeService.act(principal, cmd)`).


@dataclass(frozen=True, slots=True)
class VmCommand:
    vm_id: int
    action: ClassVar[VmAction]
    #: what the command does, as the CLI's help and the API reference say it
    summary: ClassVar[str]

    def __post_init__(self) -> None:
        if isinstance(self.vm_id, bool) or not isinstance(self.vm_id, int):
            raise InvalidInput(f"VM id {self.vm_id!r} is not a number",
                               hint="give the VM's id, as stratus describe-instance shows it")


@dataclass(frozen=True, slots=True)
class StartVm(VmCommand):
    action = VmAction.START
    summary = "Boot powered-off, stopped or suspended VMs."


@dataclass(frozen=True, slots=True)
class ShutdownVm(VmCommand):
    action = VmAction.SHUTDOWN
    summary = "Shut VMs down gracefully (ACPI), then discard them."


@dataclass(frozen=True, slots=True)
class KillVm(VmCommand):
    action = VmAction.KILL
    summary = "Stop VMs at once and discard them (disks go to quarantine)."


@dataclass(frozen=True, slots=True)
class StopVm(VmCommand):
    action = VmAction.STOP
    summary = "Save VMs' memory and release their host."


@dataclass(frozen=True, slots=True)
class SuspendVm(VmCommand):
    action = VmAction.SUSPEND
    summary = "Save VMs' memory to disk and pause them."


@dataclass(frozen=True, slots=True)
class ResumeVm(VmCommand):
    action = VmAction.RESUME
    summary = "Resume suspended, stopped or powered-off VMs."


@dataclass(frozen=True, slots=True)
class PoweroffVm(VmCommand):
    action = VmAction.POWEROFF
    summary = "Power VMs off, keeping their disks."


@dataclass(frozen=True, slots=True)
class RebootVm(VmCommand):
    action = VmAction.REBOOT
    summary = "Reboot VMs."


@dataclass(frozen=True, slots=True)
class HoldVm(VmCommand):
    action = VmAction.HOLD
    summary = "Keep pending VMs from being deployed."


@dataclass(frozen=True, slots=True)
class ReleaseVm(VmCommand):
    action = VmAction.RELEASE
    summary = "Release held VMs."


@dataclass(frozen=True, slots=True)
class UndeployVm(VmCommand):
    action = VmAction.UNDEPLOY
    summary = "Power VMs off and give their host's capacity back (resume boots them again)."


@dataclass(frozen=True, slots=True)
class RecoverRetry(VmCommand):
    action = VmAction.RECOVER_RETRY
    summary = "Retry the step a VM failed in."


@dataclass(frozen=True, slots=True)
class RecoverSuccess(VmCommand):
    action = VmAction.RECOVER_SUCCESS
    summary = "Declare the failed step done."


@dataclass(frozen=True, slots=True)
class RecoverFailure(VmCommand):
    action = VmAction.RECOVER_FAILURE
    summary = "Declare the VM failed (it releases what it holds)."


@dataclass(frozen=True, slots=True)
class RecoverDelete(VmCommand):
    action = VmAction.RECOVER_DELETE
    summary = "Delete the failed VM."


#: every user action's command type, by action (the scheduler's `deploy` has none)
VM_COMMANDS: Mapping[VmAction, type[VmCommand]] = {
    c.action: c for c in (StartVm, ShutdownVm, KillVm, StopVm, SuspendVm, ResumeVm, PoweroffVm,
                          RebootVm, HoldVm, ReleaseVm, UndeployVm, RecoverRetry, RecoverSuccess,
                          RecoverFailure, RecoverDelete)
}
assert set(VM_COMMANDS) == set(USER_ACTIONS), "a user action without its command type"


def vm_command(action: str, vm_id: int) -> VmCommand:
    """The command for the action named `action` (its VmAction value) on VM `vm_id`."""
    if action == VmAction.DEPLOY:
        raise InvalidInput(f"action {action} is reserved to the scheduler",
                           hint="a pending VM is deployed when a host is free")
    try:
        cls = VM_COMMANDS[VmAction(action)]
    except (ValueError, KeyError):
        raise InvalidInput(f"action {action!r} is unknown",
                           hint=f"use one of {', '.join(sorted(a.value for a in VM_COMMANDS))}",
                           ) from None
    return cls(vm_id)
