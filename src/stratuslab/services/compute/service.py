"""`ComputeService`: run instances (quota-checked in the transaction that records them), list
and show them, their console, events and jobs; lifecycle actions and management come from
`base` and `manage`.  Imports core and services below it."""

from __future__ import annotations

import builtins

from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import ImageState, InstanceType, Job, Principal, Vm, VmEvent
from stratuslab.core.errors import Conflict, InvalidInput, InvalidState, NotFound
from stratuslab.core.hypervisor import VmHandle
from stratuslab.core.ports import Page, UnitOfWork, VmFilter
from stratuslab.core.scheduler import rank_policy
from stratuslab.core.states import VmAction, VmState
from stratuslab.core.vmspec import InstanceSpec
from stratuslab.services.common import record
from stratuslab.services.compute.manage import ManageMixin
from stratuslab.services.compute.rules import disk_gb, run_demand, validate_run
from stratuslab.services.images import image_permissions
from stratuslab.services.policy import (
    PRIVATE,
    Permissions,
    Right,
    authorize,
    check_gate,
    check_may_start,
    rights_of,
)
from stratuslab.services.scheduling import batch_tag


class ComputeService(ManageMixin):
    # -- create -----------------------------------------------------------------------------
    def run(self, principal: Principal, cmd: RunInstance) -> list[tuple[Vm, Job]]:
        check_may_start(principal)  # StratusLab's cloud-access gate; no limited proxies
        itype = validate_run(self.types, cmd)
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
                      what="image", ident=cmd.image_id, listing="stratus image list",
                      lock=image.lock)
            demand = run_demand(itype, image, cmd)
            per_vm = (cmd.cpu or itype.cpu, cmd.ram_mib or itype.ram_mib)
            self.reserve(uow, principal, self._draft(principal, cmd, itype), demand,
                         f"{cmd.count} VM(s) of {per_vm[0]} vCPU and {per_vm[1]} MiB",
                         size=per_vm)
            disk = disk_gb(image, cmd)
            batch = batch_tag() if cmd.count > 1 else None  # placed in one decision
            made = [self._create_one(uow, principal, cmd, itype, disk, batch)
                    for _ in range(cmd.count)]
            if cmd.idempotency_key:
                uow.idempotency.put(
                    principal.user, cmd.idempotency_key,
                    {"vms": [vm.id for vm, _ in made], "jobs": [j.id for _, j in made]},
                    self.clock.now(),
                )
            uow.commit()
        self.wake()
        return made

    def _draft(self, principal: Principal, cmd: RunInstance, itype: InstanceType,
               disk: int = 0) -> Vm:
        """The VM record `cmd` makes (not saved)."""
        now = self.clock.now()
        state = VmState.HOLD if cmd.hold else VmState.PENDING
        return Vm(
            None, "", principal.user, principal.groups[0] if principal.groups else "users",
            state.value, cmd.image_id, itype.name,
            cmd.cpu or itype.cpu, cmd.ram_mib or itype.ram_mib,
            itype.swap_mib if cmd.swap_mib is None else cmd.swap_mib, disk_gb=disk,
            spec=InstanceSpec(
                context_method=cmd.context_method, context=dict(cmd.context),
                ssh_keys=tuple(cmd.ssh_keys), user_data=cmd.user_data,
                volatile_gb=tuple(cmd.volatile_gb), extra=dict(cmd.extra),
                requirements=cmd.requirements if cmd.requirements.strip() else "",
                sched_policy=rank_policy(cmd.rank) if cmd.rank else "", ha=cmd.ha,
            ),
            created_at=now, updated_at=now,
        )

    def _create_one(
        self, uow: UnitOfWork, principal: Principal, cmd: RunInstance, itype: InstanceType,
        disk: int, batch: str | None = None,
    ) -> tuple[Vm, Job]:
        vm = self._draft(principal, cmd, itype, disk)
        if batch:
            vm.spec = vm.spec.with_(batch=batch)
        now = self.clock.now()
        vm.created_at = vm.updated_at = now
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
    def list(
        self, principal: Principal, *, owner: str | None = None, states: tuple[str, ...] = (),
        include_done: bool = False, page: Page = Page(), shared: bool = False,
    ) -> tuple[builtins.list[Vm], int]:
        """VMs matching the filter: a user's own only, or with `shared` also the VMs others
        gave them the use right of (chmod: group or other USE), as OpenNebula's pools list."""
        for s in states:
            if s not in VmState.__members__.values():
                raise InvalidInput(f"state filter {s!r} is not a VM state",
                                   hint=f"use one of {', '.join(VmState)}")
        check_gate(principal)
        if principal.is_admin or not shared:
            flt = VmFilter(owner=owner if principal.is_admin else principal.user, states=states,
                           include_done=include_done)
            with self.uow(readonly=True) as uow:
                return uow.vms.list(flt, page), uow.vms.count(flt)
        flt = VmFilter(owner=owner, states=states, include_done=include_done)
        with self.uow(readonly=True) as uow:
            every = uow.vms.list(flt, Page(0, max(uow.vms.count(flt), 1)))
        seen = [vm for vm in every if Right.USE in rights_of(
            principal, vm.owner, vm.group, Permissions.parse(vm.permissions))]
        return seen[page.offset : page.offset + page.limit], len(seen)

    def console(self, principal: Principal, vm_id: int) -> bytes:
        """The VM's serial console log, as the node keeps it."""
        vm = self.get(principal, vm_id)
        handle = vm.spec.handle
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

    def job(self, principal: Principal, job_id: int) -> Job:
        with self.uow(readonly=True) as uow:
            job = uow.jobs.get(job_id)
        if job is None:
            raise NotFound("job", job_id, "stratus job list")
        authorize(principal, "read", job.owner, None, PRIVATE, what="job", ident=job_id,
                  listing="stratus job list")
        return job

    def jobs(self, principal: Principal, *, vm_id: int | None = None, page: Page = Page(),
             before: int | None = None) -> builtins.list[Job]:
        """The caller's jobs (every job for admins), newest first, those below `before` only."""
        check_gate(principal)
        with self.uow(readonly=True) as uow:
            return uow.jobs.list(None if principal.is_admin else principal.user, vm_id, page,
                                 before=before)

