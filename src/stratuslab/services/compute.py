"""Compute use cases: run instances, list and show them, accept lifecycle actions.

Each accepted request records the desired state and a job in one transaction and returns at once;
the job runner (services.jobs) carries the job out through the lifecycle executor.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import ImageState, InstanceType, Job, Principal, Vm, VmEvent
from stratuslab.core.errors import Conflict, Forbidden, InvalidInput, InvalidState, NotFound
from stratuslab.core.hypervisor import VmHandle
from stratuslab.core.instance import is_reserved_context_key
from stratuslab.core.node import Node
from stratuslab.core.ports import Clock, Page, UnitOfWork, UnitOfWorkFactory, VmFilter
from stratuslab.core.states import (
    TRANSITIONAL,
    USER_ACTIONS,
    VmAction,
    VmState,
    allowed_from,
    next_state,
)
from stratuslab.services.common import record
from stratuslab.services.extensions import VmExtension
from stratuslab.services.images import image_permissions
from stratuslab.services.placement import HOST_LISTING, Placement
from stratuslab.services.policy import PRIVATE, authorize, check_gate, check_may_start

HOSTNAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
CONTEXT_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
LISTING = "stratus describe-instance"
MAX_COUNT = 100
MAX_CPU = 128
MAX_RAM_MIB = 1024 * 1024


def _check_name(name: str) -> None:
    if not HOSTNAME_RE.match(name):
        raise InvalidInput(
            f"VM name {name!r} is not a valid host name",
            hint="use letters, digits and '-', at most 63 characters",
        )


@dataclass(frozen=True)
class InstanceTypes:
    types: Mapping[str, InstanceType]
    default: str

    def get(self, name: str | None) -> InstanceType:
        key = name or self.default
        if key not in self.types:
            raise InvalidInput(
                f"instance type {key!r} does not exist",
                hint=f"choose one of {', '.join(self.types)} (stratus list-types)",
            )
        return self.types[key]


class ComputeService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        types: InstanceTypes,
        *,
        nodes: Mapping[str, Node] | None = None,
        wake: Callable[[], None] = lambda: None,
        extensions: Sequence[VmExtension] = (),
        placement: Placement | None = None,
    ) -> None:
        self.extensions = tuple(extensions)
        self.uow = uow
        self.clock = clock
        self.types = types
        self.nodes = nodes or {}
        self.placement = placement or Placement(self.nodes)
        self.wake = wake  # tells the job runner new work is queued

    # -- create -----------------------------------------------------------------------------
    def run(self, principal: Principal, cmd: RunInstance) -> list[tuple[Vm, Job]]:
        check_may_start(principal)  # StratusLab's cloud-access gate; no limited proxies
        itype = self._validate(cmd)
        if not cmd.hold and self.nodes and not self.placement.any_enabled():
            raise Conflict("no enabled host can run new VMs: every host is disabled",
                           hint="an administrator enables one (one.host.enable ID true)")
        for ext in self.extensions:
            ext.validate(principal, cmd)
        with self.uow() as uow:
            if cmd.idempotency_key:
                previous = uow.idempotency.get(principal.user, cmd.idempotency_key)
                if previous is not None:
                    return self._replay(uow, previous)
            image = uow.images.get(cmd.image_id)
            if image is not None and image.state == ImageState.DISABLED.value:
                raise InvalidState(what="image", name=str(cmd.image_id), state="disabled",
                                   action="run new VMs from it",
                                   allowed="an enabled image; its owner enables it again")
            if image is not None and image.state == ImageState.IMPORTING.value:
                raise InvalidState(what="image", name=str(cmd.image_id), state="importing",
                                   action="run new VMs from it",
                                   allowed="ready; wait until its download job is done")
            if image is None or image.state != ImageState.READY.value:
                raise NotFound("image", cmd.image_id, "stratus image list")
            authorize(principal, "use", image.owner, image.group, image_permissions(image),
                      what="image", ident=cmd.image_id, listing="stratus image list")
            made = [self._create_one(uow, principal, cmd, itype, i) for i in range(cmd.count)]
            if cmd.idempotency_key:
                uow.idempotency.put(
                    principal.user, cmd.idempotency_key,
                    {"vms": [vm.id for vm, _ in made], "jobs": [j.id for _, j in made]},
                    self.clock.now(),
                )
            uow.commit()
        self.wake()
        return made

    def _validate(self, cmd: RunInstance) -> InstanceType:
        itype = self.types.get(cmd.instance_type)
        if not 1 <= cmd.count <= MAX_COUNT:
            raise InvalidInput(f"instance count {cmd.count} is out of range (1-{MAX_COUNT})")
        if cmd.cpu is not None and not 1 <= cmd.cpu <= MAX_CPU:
            raise InvalidInput(f"--cpu {cmd.cpu} is out of range (1-{MAX_CPU})")
        if cmd.ram_mib is not None and not 64 <= cmd.ram_mib <= MAX_RAM_MIB:
            raise InvalidInput(f"--ram {cmd.ram_mib} MiB is out of range (64-{MAX_RAM_MIB})")
        if cmd.swap_mib is not None and not 0 <= cmd.swap_mib <= MAX_RAM_MIB:
            raise InvalidInput(f"--swap {cmd.swap_mib} MiB is out of range (0-{MAX_RAM_MIB})")
        if cmd.name is not None:
            _check_name(cmd.name)
        for gb in cmd.volatile_gb:
            if not 1 <= gb <= 1024:
                raise InvalidInput(f"volatile disk of {gb} GB is out of range (1-1024 GB)")
        for key in cmd.context:
            if is_reserved_context_key(key):
                raise InvalidInput(f"context key {key} is set by StratusLab itself",
                                   hint="choose another name for your --context value")
            if not CONTEXT_KEY_RE.match(key):
                raise InvalidInput(f"context key {key!r} is not valid", hint="use [A-Za-z_][A-Za-z0-9_]*")
        if cmd.context_method not in ("cloud-init", "one"):
            raise InvalidInput(
                f"context method {cmd.context_method!r} is unknown", hint="use cloud-init or one"
            )
        return itype

    def _create_one(
        self, uow: UnitOfWork, principal: Principal, cmd: RunInstance, itype: InstanceType, i: int
    ) -> tuple[Vm, Job]:
        now = self.clock.now()
        state = VmState.HOLD if cmd.hold else VmState.PENDING
        vm = Vm(
            None, "", principal.user, principal.groups[0] if principal.groups else "users",
            state.value, cmd.image_id, itype.name,
            cmd.cpu or itype.cpu, cmd.ram_mib or itype.ram_mib,
            itype.swap_mib if cmd.swap_mib is None else cmd.swap_mib,
            spec={
                "context_method": cmd.context_method, "context": dict(cmd.context),
                "ssh_keys": list(cmd.ssh_keys), "user_data": cmd.user_data,
                "volatile_gb": list(cmd.volatile_gb), "extra": dict(cmd.extra),
            },
            created_at=now, updated_at=now,
        )
        uow.vms.add(vm)
        assert vm.id is not None
        base = cmd.name or "vm"
        vm.name = base if (cmd.name and cmd.count == 1) else f"{base}-{vm.id}"
        uow.vms.update(vm)
        record(uow, vm.id, now, "request", principal.user, f"run-instance from image {cmd.image_id}")
        for ext in self.extensions:
            ext.on_create(uow, principal, vm, cmd)
        uow.vms.update(vm)
        job = Job(None, VmAction.DEPLOY.value, principal.user, vm_id=vm.id,
                  state="done" if cmd.hold else "queued", created_at=now, updated_at=now)
        uow.jobs.add(job)
        return vm, job

    def _replay(self, uow: UnitOfWork, previous: dict[str, list[int]]) -> list[tuple[Vm, Job]]:
        out = []
        for vm_id, job_id in zip(previous["vms"], previous["jobs"], strict=True):
            vm, job = uow.vms.get(vm_id), uow.jobs.get(job_id)
            assert vm is not None and job is not None
            out.append((vm, job))
        return out

    # -- read -------------------------------------------------------------------------------
    def get(self, principal: Principal, vm_id: int, *, action: str = "read") -> Vm:
        with self.uow(readonly=True) as uow:
            vm = uow.vms.get(vm_id)
        if vm is None:
            raise NotFound("VM", vm_id, LISTING)
        authorize(principal, action, vm.owner, vm.group, PRIVATE, what="VM", ident=vm_id,
                  listing=LISTING)
        return vm

    def list(
        self, principal: Principal, *, owner: str | None = None, states: tuple[str, ...] = (),
        include_done: bool = False, page: Page = Page(),
    ) -> tuple[builtins.list[Vm], int]:
        for s in states:
            if s not in VmState.__members__.values():
                raise InvalidInput(f"state filter {s!r} is not a VM state",
                                   hint=f"use one of {', '.join(VmState)}")
        check_gate(principal)
        if not principal.is_admin:
            owner = principal.user
        flt = VmFilter(owner=owner, states=states, include_done=include_done)
        with self.uow(readonly=True) as uow:
            return uow.vms.list(flt, page), uow.vms.count(flt)

    def console(self, principal: Principal, vm_id: int) -> bytes:
        """The VM's serial console log, as the node keeps it."""
        vm = self.get(principal, vm_id)
        handle = vm.spec.get("handle")
        if not handle or vm.host is None or vm.host not in self.nodes:
            raise InvalidState(what="VM", name=str(vm_id), state=vm.state, action="show the console",
                               allowed="a VM that has booted at least once")
        return self.nodes[vm.host].hypervisor.console_log(
            VmHandle(vm_id, handle["host"], handle.get("data", {}))
        )

    def events(self, principal: Principal, vm_id: int) -> builtins.list[VmEvent]:
        self.get(principal, vm_id)
        with self.uow(readonly=True) as uow:
            return uow.events.for_vm(vm_id)

    # -- act --------------------------------------------------------------------------------
    def act(self, principal: Principal, vm_id: int, action: VmAction | str) -> Job:
        try:
            action = VmAction(action)
        except ValueError:
            raise InvalidInput(
                f"action {action!r} is unknown",
                hint=f"use one of {', '.join(a.value for a in sorted(USER_ACTIONS))}",
            ) from None
        if action not in USER_ACTIONS:
            raise InvalidInput(f"action {action} is reserved to the scheduler")
        vm = self.get(principal, vm_id, action="action")
        with self.uow() as uow:
            current = uow.vms.get(vm_id)
            assert current is not None
            target = next_state(current.vm_state, action)
            if target is None:
                raise InvalidState(
                    what="VM", name=f"{vm_id} ({vm.name})", state=current.state, action=action.value,
                    allowed=", ".join(allowed_from(action)) or "nowhere",
                )
            now = self.clock.now()
            if not uow.vms.cas_state(vm_id, current.state, target.value, last_action=action.value,
                                     error=None, updated_at=now):
                raise InvalidState(what="VM", name=str(vm_id), state="changing",
                                   action=action.value, allowed="a stable state; retry shortly")
            record(uow, vm_id, now, "request", principal.user,
                   f"{action.value}: {current.state} -> {target.value}", host=current.host)
            if target in (VmState.FAILED, VmState.DONE):
                for ext in self.extensions:  # ends without a job: release in this transaction
                    ext.on_finish(uow, current, target.value)
            # so does giving up (clean the node: QEMU, taps, disks) and declaring a VM running
            # (re-plug its network: LifecycleExecutor.replug)
            needs_job = (target in TRANSITIONAL or target is VmState.PENDING
                         or (action in (VmAction.RECOVER_FAILURE, VmAction.RECOVER_SUCCESS)
                             and current.host is not None))
            action_kind = VmAction.DEPLOY.value if target is VmState.PENDING else action.value
            job = Job(None, action_kind, principal.user, vm_id=vm_id, target_state=target.value,
                      state="queued" if needs_job else "done", created_at=now, updated_at=now)
            uow.jobs.add(job)
            uow.commit()
        if needs_job:
            self.wake()
        return job

    def job(self, principal: Principal, job_id: int) -> Job:
        with self.uow(readonly=True) as uow:
            job = uow.jobs.get(job_id)
        if job is None:
            raise NotFound("job", job_id, "stratus job list")
        authorize(principal, "read", job.owner, None, PRIVATE, what="job", ident=job_id,
                  listing="stratus job list")
        return job

    def jobs(self, principal: Principal, *, vm_id: int | None = None, page: Page = Page()) -> builtins.list[Job]:
        check_gate(principal)
        with self.uow(readonly=True) as uow:
            return uow.jobs.list(None if principal.is_admin else principal.user, vm_id, page)

    # -- manage -----------------------------------------------------------------------------
    def _change(self, principal: Principal, vm_id: int, action: str, what: str,
                change: Callable[[Vm], None]) -> Vm:
        """Apply `change` to the VM in one transaction and record `what` as its event."""
        self.get(principal, vm_id, action=action)
        with self.uow() as uow:
            vm = uow.vms.get(vm_id)
            assert vm is not None
            change(vm)
            vm.updated_at = self.clock.now()
            uow.vms.update(vm)
            record(uow, vm_id, vm.updated_at, "request", principal.user, what, host=vm.host)
            uow.commit()
        return vm

    def rename(self, principal: Principal, vm_id: int, name: str) -> Vm:
        _check_name(name)
        old = self.get(principal, vm_id, action="update").name

        def change(vm: Vm) -> None:
            vm.name = name
        return self._change(principal, vm_id, "update", f"rename: {old} -> {name}", change)

    def resize(self, principal: Principal, vm_id: int, *, cpu: int | None = None,
               ram_mib: int | None = None) -> Vm:
        """Change a powered-off VM's virtual CPUs and/or memory (None = keep); the next
        resume boots with them.  Other states refuse: a running or suspended guest (and a
        stopped one, whose saved memory image has the old size) cannot change shape."""
        if cpu is not None and not 1 <= cpu <= MAX_CPU:
            raise InvalidInput(f"{cpu} CPUs is out of range (1-{MAX_CPU})")
        if ram_mib is not None and not 64 <= ram_mib <= MAX_RAM_MIB:
            raise InvalidInput(f"{ram_mib} MiB of memory is out of range (64-{MAX_RAM_MIB})")
        vm = self.get(principal, vm_id, action="update")
        if vm.vm_state is not VmState.POWEROFF:
            raise InvalidState(what="VM", name=f"{vm_id} ({vm.name})", state=vm.state,
                               action="change its CPUs or memory",
                               allowed="poweroff; power it off first, resize, then resume")

        def change(current: Vm) -> None:
            if current.vm_state is not VmState.POWEROFF:  # moved since the check above
                raise InvalidState(what="VM", name=str(vm_id), state=current.state,
                                   action="change its CPUs or memory", allowed="poweroff")
            current.vcpu = cpu if cpu is not None else current.vcpu
            current.memory_mib = ram_mib if ram_mib is not None else current.memory_mib
        after = f"{cpu if cpu is not None else vm.vcpu} CPU, "
        after += f"{ram_mib if ram_mib is not None else vm.memory_mib} MiB"
        return self._change(principal, vm_id, "update",
                            f"resize: {vm.vcpu} CPU, {vm.memory_mib} MiB -> {after}", change)

    def chown(self, principal: Principal, vm_id: int, *, owner: int | None = None,
              group: int | None = None) -> Vm:
        """Give a VM to another user and/or group (administrators only; ids, None = keep)."""
        if not principal.is_admin:
            raise Forbidden(f"user {principal.user} may not change the owner of VM {vm_id}",
                            hint="only administrators change owners")
        with self.uow(readonly=True) as uow:
            user = uow.users.get(owner) if owner is not None else None
            grp = uow.groups.get(group) if group is not None else None
        if owner is not None and user is None:
            raise NotFound("user", owner, "stratus user list")
        if group is not None and grp is None:
            raise NotFound("group", group, "stratus group list")

        def change(vm: Vm) -> None:
            vm.owner = user.name if user is not None else vm.owner
            vm.group = grp.name if grp is not None else vm.group
        after = f"{user.name if user else '-'}:{grp.name if grp else '-'}"
        return self._change(principal, vm_id, "chown", f"chown: {after}", change)

    def update_user_template(self, principal: Principal, vm_id: int,
                             values: Mapping[str, object], *, merge: bool) -> Vm:
        """Replace (or merge into) the VM's free-form user attributes; the deploy ignores them."""
        for key in values:
            if not CONTEXT_KEY_RE.match(key):
                raise InvalidInput(f"attribute name {key!r} is not valid",
                                   hint="use [A-Za-z_][A-Za-z0-9_]*")

        def change(vm: Vm) -> None:
            base = dict(vm.spec.get("user_template", {})) if merge else {}
            vm.spec = {**vm.spec, "user_template": {**base, **values}}
        how = "merge" if merge else "replace"
        return self._change(principal, vm_id, "update", f"user template {how}: "
                            f"{', '.join(values) or '(empty)'}", change)

    def set_host_enabled(self, principal: Principal, host: str, enabled: bool) -> None:
        if not principal.is_admin:
            raise Forbidden(f"user {principal.user} may not enable or disable hosts",
                            hint="only administrators manage hosts")
        self.placement.set_enabled(host, enabled)

    def deploy(self, principal: Principal, vm_id: int, host: str) -> Job | None:
        """Place a pending or held VM on `host` (administrators); a held VM is released."""
        if not principal.is_admin:
            raise Forbidden(f"user {principal.user} may not choose the host of VM {vm_id}",
                            hint="only administrators deploy by hand; the scheduler places VMs")
        self.placement.require(host)
        if not self.placement.is_enabled(host):
            raise Conflict(f"host {host} is disabled; cannot deploy VM {vm_id} there",
                           hint="enable it first (one.host.enable ID true)")
        state = self.get(principal, vm_id).vm_state
        if state not in (VmState.PENDING, VmState.HOLD):
            raise InvalidState(what="VM", name=str(vm_id), state=state.value,
                               action="deploy", allowed="pending, hold")

        def change(vm: Vm) -> None:
            if vm.vm_state is not state:
                raise InvalidState(what="VM", name=str(vm_id), state="changing",
                                   action="deploy", allowed="a stable state; retry shortly")
            vm.spec = {**vm.spec, "requested_host": host}
        self._change(principal, vm_id, "action", f"deploy to host {host}", change)
        return self.act(principal, vm_id, VmAction.RELEASE) if state is VmState.HOLD else None

    def migrate(self, principal: Principal, vm_id: int, host: str) -> None:
        """Refuse honestly: this cloud cannot move a running guest between nodes yet."""
        if not principal.is_admin:
            raise Forbidden(f"user {principal.user} may not migrate VM {vm_id}",
                            hint="only administrators migrate VMs")
        if host not in self.nodes:
            raise NotFound("host", host, HOST_LISTING)
        vm = self.get(principal, vm_id)
        if vm.host == host:
            raise Conflict(f"VM {vm_id} already runs on host {host}; nothing to migrate")
        raise Conflict(f"cannot migrate VM {vm_id} from {vm.host or 'no host'} to {host}: "
                       "multi-node migration is not available yet",
                       hint="stop the VM and start a new one on the other host")
