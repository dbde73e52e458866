"""What every compute use case shares: the services it works with, reading a VM with its
permission check, lifecycle actions, and the one-transaction change helper.  Imports core and
services below it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from stratuslab.core.commands import VmCommand
from stratuslab.core.entities import Job, Principal, Vm
from stratuslab.core.errors import InvalidState, NotFound
from stratuslab.core.node import Node
from stratuslab.core.ports import Clock, UnitOfWork, UnitOfWorkFactory
from stratuslab.core.quotas import ComputeUsage
from stratuslab.core.states import (
    TRANSITIONAL,
    VmAction,
    VmState,
    allowed_from,
    next_state,
)
from stratuslab.services.common import record
from stratuslab.services.compute.rules import LISTING, InstanceTypes
from stratuslab.services.extensions import VmExtension
from stratuslab.services.placement import Placement
from stratuslab.services.policy import authorize
from stratuslab.services.quotas import ComputeQuotas


class ComputeBase:
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
        quotas: ComputeQuotas | None = None,
    ) -> None:
        self.extensions = tuple(extensions)
        self.uow = uow
        self.clock = clock
        self.types = types
        self.nodes = nodes or {}
        self.placement = placement or Placement(self.nodes)
        self.wake = wake  # tells the job runner new work is queued
        self.quotas = quotas  # None: no quotas and no capacity admission (unit tests)

    def reserve(self, uow: UnitOfWork, principal: Principal, vm: Vm, demand: ComputeUsage,
                what: str, *, size: tuple[int, int] | None = None) -> None:
        """Check quotas and capacity for `demand` in `uow`'s transaction (see services.quotas)."""
        if self.quotas is not None:
            self.quotas.reserve(uow, principal, owner=vm.owner, group=vm.group, demand=demand,
                                what=what, size=size or (vm.vcpu, vm.memory_mib))

    # -- read -------------------------------------------------------------------------------
    def get(self, principal: Principal, vm_id: int, *, action: str = "read",
            locked: bool = False) -> Vm:
        """The VM if the caller may do `action` on it (`locked`: whatever its lock)."""
        with self.uow(readonly=True) as uow:
            vm = uow.vms.get(vm_id)
        if vm is None:
            raise NotFound("VM", vm_id, LISTING)
        authorize(principal, action, vm.owner, vm.group, vm.permissions, what="VM", ident=vm_id,
                  listing=LISTING, lock=0 if locked else vm.lock)
        return vm

    # -- act --------------------------------------------------------------------------------
    def act(self, principal: Principal, cmd: VmCommand) -> Job:
        """Carry out a lifecycle command: the state table decides, a job does the work."""
        vm_id, action = cmd.vm_id, cmd.action
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
            if current.vm_state is VmState.FAILED and target is VmState.PENDING:
                # a failed VM holds nothing; retrying it takes its share again
                self.reserve(uow, principal, current,
                             ComputeUsage(1, current.vcpu, current.memory_mib, current.disk_gb),
                             f"VM {vm_id} ({current.name})")
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

    # -- manage -----------------------------------------------------------------------------
    def _change(self, principal: Principal, vm_id: int, action: str, what: str,
                change: Callable[[UnitOfWork, Vm], None], *, locked: bool = False) -> Vm:
        """Apply `change` to the VM in one transaction and record `what` as its event."""
        self.get(principal, vm_id, action=action, locked=locked)
        with self.uow() as uow:
            vm = uow.vms.get(vm_id)
            assert vm is not None
            change(uow, vm)
            vm.updated_at = self.clock.now()
            uow.vms.update(vm)
            record(uow, vm_id, vm.updated_at, "request", principal.user, what, host=vm.host)
            uow.commit()
        return vm
