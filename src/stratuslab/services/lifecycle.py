"""The lifecycle executor: carries a VM job out step by step through the node's drivers.

Each step starts from the VM's recorded state, is idempotent, and ends with a compare-and-swap
to the next state, so a job interrupted by a crash is simply run again.  A failed deploy rolls
back what it made and leaves the VM `failed` with the driver's own message; other failures put
the VM in the failure twin of its transitional state, from which `recover` decides.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stratuslab.core.entities import Image, Job, Vm
from stratuslab.core.errors import CloudError, Conflict, DriverError
from stratuslab.core.hypervisor import BootSpec, DiskSpec, NicSpec, ObservedState, VmHandle, VmSpec
from stratuslab.core.instance import ContextSpec, PrologRequest
from stratuslab.core.node import Node
from stratuslab.core.ports import Clock, Page, UnitOfWork, UnitOfWorkFactory, VmFilter
from stratuslab.core.states import FAILURE_TWIN, VmAction, VmState, step_done
from stratuslab.services.common import record, record_step
from stratuslab.services.extensions import VmExtension

log = logging.getLogger(__name__)
S = VmState

#: what a job reports while its VM is in each transitional state (the job's `step`, shown by
#: the clients that follow it; a job that ends says `now <state>`); {host} is the VM's host
STEP_LABELS = {
    S.PENDING: "waiting for a host", S.PROLOG: "prolog: disks over the image on {host}",
    S.BOOT: "boot on {host}", S.SHUTDOWN: "shutdown: waiting for the guest to stop",
    S.POWEROFF_PENDING: "poweroff", S.UNDEPLOYING: "undeploy: powering off",
    S.SAVE: "save: suspending the guest to disk", S.RESTORE: "restore: resuming the guest",
    S.REBOOT: "reboot", S.EPILOG: "epilog: stopping, disks to quarantine",
}


class Superseded(Exception):
    """Someone else moved the VM (e.g. a kill arrived); this job stops quietly."""


class LifecycleExecutor:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        nodes: Mapping[str, Node],
        *,
        shutdown_timeout: float = 30.0,
        place: Callable[[Vm], bool] | None = None,
        extensions: Sequence[VmExtension] = (),
    ) -> None:
        self.extensions = tuple(extensions)
        self.uow = uow
        self.clock = clock
        self.nodes = nodes
        self.shutdown_timeout = shutdown_timeout
        #: places a pending VM (moves it to prolog on its host, reserving the capacity in that
        #: transaction); False: no host can take it, it stays pending with the reason
        self.place = place or self._place_first

    # -- the job ------------------------------------------------------------------------------
    def execute(self, job: Job) -> None:
        assert job.vm_id is not None
        try:
            self._execute(job)
        except Superseded:
            # another request (e.g. a kill) moved the VM first; its own job carries on from there
            log.info("job %s (%s) of VM %s superseded", job.id, job.kind, job.vm_id)

    def give_up(self, job: Job, reason: str) -> None:
        """The job runner abandons `job` (every attempt was interrupted): a VM left in a
        transitional state enters its failure twin with `reason`, where `recover` applies."""
        if job.vm_id is None:
            return
        vm = self._load(job.vm_id)
        if vm.vm_state is S.PENDING or vm.vm_state in self._steps():
            self._fail(vm, CloudError(reason))

    def _execute(self, job: Job) -> None:
        assert job.vm_id is not None
        action = VmAction(job.kind)
        if action is VmAction.RECOVER_SUCCESS:  # declared running by an admin: give it its network
            vm = self._load(job.vm_id)
            if vm.vm_state is S.RUNNING:
                self.replug(vm)
            return
        if action is VmAction.RECOVER_FAILURE:
            vm = self._load(job.vm_id)
            if vm.vm_state is S.FAILED:
                self._rollback(vm)  # what the abandoned step left on the node
            return
        for _ in range(16):  # a job visits at most a handful of states
            vm = self._load(job.vm_id)
            state = vm.vm_state
            label = STEP_LABELS.get(state, f"now {state.value}")  # stable: where the job ended
            record_step(self.uow, self.clock, job.id, label.format(host=vm.host)[:64])
            if state is S.PENDING and action is VmAction.DEPLOY:
                if not self.place(vm):
                    return  # waits in pending (the reason is in its log): the scheduler loop
                continue
            if state is S.PROLOG and action is VmAction.DEPLOY and vm.host not in self.nodes:
                self._hand_over(vm, job)  # placed with its batch on another front end's host
                return
            step = self._steps().get(state)
            if step is None:
                return  # stable state: nothing (left) to do
            try:
                changes = step(vm, action) or {}
            except Superseded:
                raise
            except CloudError as exc:
                self._fail(vm, exc)
                raise
            except Exception as exc:  # a driver bug must not leave the VM in a transitional state
                self._fail(vm, DriverError(f"{type(exc).__name__}: {exc}"))
                raise
            self._move(vm, step_done(state, action), f"{state.value} done", **changes)

    def _steps(self) -> dict[VmState, Callable[[Vm, VmAction], dict[str, Any] | None]]:
        return {
            S.PROLOG: self._prolog, S.BOOT: self._boot, S.SHUTDOWN: self._shutdown,
            S.POWEROFF_PENDING: self._poweroff, S.UNDEPLOYING: self._poweroff, S.SAVE: self._save, S.RESTORE: self._restore,
            S.REBOOT: self._reboot, S.EPILOG: self._epilog,
        }

    def _hand_over(self, vm: Vm, job: Job) -> None:
        """The VM's host is served by another front end: a deploy job of its own, which only
        that front end claims (this one ends once that job is queued)."""
        now = self.clock.now()
        with self.uow() as uow:
            uow.jobs.add(Job(None, job.kind, job.owner, vm_id=vm.id, created_at=now,
                             updated_at=now, request_id=job.request_id))
            uow.commit()
        log.info("VM %s is on host %s, served by another front end: its deploy goes on there",
                 vm.id, vm.host)

    def _place_first(self, vm: Vm) -> bool:
        """Without a scheduler (unit tests of the steps): the first node."""
        self._move(vm, S.PROLOG, "scheduled", host=next(iter(self.nodes)))
        return True

    # -- steps ----------------------------------------------------------------------------
    def _prolog(self, vm: Vm, action: VmAction) -> dict[str, Any]:
        node = self._node(vm)
        with self.uow(readonly=True) as uow:
            image = uow.images.get(vm.image_id)
        if image is None:
            raise DriverError(f"image {vm.image_id} of VM {vm.id} vanished")
        self.check_boot(vm)
        prepared = node.storage.prepare(self._prolog_request(vm, image))
        nics, disks = [], list(prepared.disks)
        for ext in self.extensions:
            added = ext.on_prolog(vm, node)
            nics += [dataclasses.asdict(n) for n in added.nics]
            disks += added.disks
        return {"spec": vm.spec.with_(prepared={
            "instance_dir": prepared.instance_dir,
            "disks": [dataclasses.asdict(d) for d in disks],
            "nics": nics,
            "boot": dataclasses.asdict(prepared.boot),
        })}

    def check_boot(self, vm: Vm) -> None:
        """The one verification step before a guest boots from its disks (deploy, start after
        poweroff or stop, resume, reboot of a dead guest): each extension may refuse."""
        node = self._node(vm)
        for ext in self.extensions:
            ext.before_boot(vm, node)

    def replug(self, vm: Vm) -> None:
        """The one way a VM coming back to running gets its surroundings on the node again (NICs
        on their segment, firewall, DHCP entry): resume, start after poweroff, recover, reboot
        and the adoption of running VMs at server start all call this, before the guest runs."""
        node = self._node(vm)
        for ext in self.extensions:
            ext.on_replug(vm, node)

    def replug_live(self) -> int:
        """At server start: re-plug every running (or unknown) VM of this server's nodes, so a
        restart adopts the data plane it left; a failure is logged and the next VM tried."""
        with self.uow(readonly=True) as uow:
            vms = uow.vms.list(VmFilter(states=(S.RUNNING.value, S.UNKNOWN.value)),
                               Page(0, 100_000))  # fmt: skip
        done = 0
        for vm in vms:
            if vm.host not in self.nodes:
                continue
            try:
                self.replug(vm)
                done += 1
            except CloudError as exc:
                log.warning("VM %s: re-plugging its network failed: %s", vm.id, exc.full_message)
        return done

    def _boot(self, vm: Vm, action: VmAction) -> dict[str, Any]:
        node = self._node(vm)
        handle = self._handle(vm)
        if handle is not None:
            self.replug(vm)  # resume, start after poweroff, recover-retry of a boot
            seen = node.hypervisor.status(handle).state
            if seen is ObservedState.RUNNING:
                return {}  # started before a crash of ours: adopt it
            self.check_boot(vm)
            new = node.hypervisor.resume(handle, self._vm_spec(vm))
        else:
            new = node.hypervisor.start(self._vm_spec(vm))
        return self._handled(vm, new)

    def _shutdown(self, vm: Vm, action: VmAction) -> None:
        handle = self._handle(vm)
        if handle is not None:
            self._node(vm).hypervisor.shutdown(handle, self.shutdown_timeout)

    def _poweroff(self, vm: Vm, action: VmAction) -> None:
        handle = self._handle(vm)
        if handle is not None:
            self._node(vm).hypervisor.poweroff(handle, self.shutdown_timeout)

    def _save(self, vm: Vm, action: VmAction) -> dict[str, Any]:
        handle = self._require_handle(vm)
        new = self._node(vm).hypervisor.suspend(handle)
        return self._handled(vm, new)

    def _restore(self, vm: Vm, action: VmAction) -> dict[str, Any]:
        handle = self._require_handle(vm)
        node = self._node(vm)
        self.replug(vm)
        if node.hypervisor.status(handle).state is ObservedState.RUNNING:
            return {}
        self.check_boot(vm)
        new = node.hypervisor.resume(handle, self._vm_spec(vm))
        return self._handled(vm, new)

    def _reboot(self, vm: Vm, action: VmAction) -> dict[str, Any] | None:
        """Reset a running guest; one that is not running (an `unknown` VM whose process died,
        which the state table lets reboot) is booted again from its disks instead."""
        handle = self._require_handle(vm)
        node = self._node(vm)
        self.replug(vm)
        if node.hypervisor.status(handle).state is ObservedState.RUNNING:
            node.hypervisor.reboot(handle)
            return None
        self.check_boot(vm)
        new = node.hypervisor.resume(handle, self._vm_spec(vm))
        return self._handled(vm, new)

    def _epilog(self, vm: Vm, action: VmAction) -> None:
        if vm.host is None:
            return
        node = self._node(vm)
        # no recorded handle does not mean no VM: a deploy overtaken by this kill may have started
        # it without being able to record the handle; drivers find their VMs by id
        node.hypervisor.kill(self._handle(vm) or VmHandle(vm.id or 0, vm.host, {}))
        for ext in self.extensions:
            ext.on_node_release(vm, node)
        node.storage.release(vm.id or 0, owner=vm.owner, quarantine=True)

    # -- helpers --------------------------------------------------------------------------
    def _node(self, vm: Vm) -> Node:
        host = vm.host or ""
        if host not in self.nodes:
            raise DriverError(f"VM {vm.id} is placed on host {host!r}, which this server does not know")
        return self.nodes[host]

    @staticmethod
    def _handle(vm: Vm) -> VmHandle | None:
        h = vm.spec.handle
        return VmHandle(vm.id or 0, h["host"], h.get("data", {})) if h else None

    @staticmethod
    def _handled(vm: Vm, new: VmHandle) -> dict[str, Any]:
        """The change recording the hypervisor's new handle of `vm`."""
        return {"spec": vm.spec.with_(handle={"host": new.host, "data": dict(new.data)})}

    def _require_handle(self, vm: Vm) -> VmHandle:
        handle = self._handle(vm)
        if handle is None:
            raise DriverError(f"VM {vm.id} has no hypervisor handle; it was never started")
        return handle

    def _prolog_request(self, vm: Vm, image: Image) -> PrologRequest:
        s = vm.spec
        context = ContextSpec(
            instance_id=f"stratuslab-vm-{vm.id}", hostname=vm.name,
            method=s.context_method, ssh_keys=tuple(s.ssh_keys),
            user_data=s.user_data, extra=dict(s.context),
            networks=tuple(s.networks),
        )
        return PrologRequest(
            vm_id=vm.id or 0, name=vm.name, image_path=image.path, image_format=image.format,
            boot=BootSpec(image.kernel, image.initrd, image.cmdline), swap_mib=vm.swap_mib,
            volatile_gb=tuple(s.volatile_gb), context=context,
        )

    def _vm_spec(self, vm: Vm) -> VmSpec:
        prepared = vm.spec.prepared or {}
        disks = tuple(DiskSpec(**d) for d in prepared.get("disks", []))
        nics = tuple(NicSpec(**n) for n in prepared.get("nics", []))
        return VmSpec(
            vm_id=vm.id or 0, name=vm.name, vcpu=vm.vcpu, memory_mib=vm.memory_mib,
            instance_dir=prepared.get("instance_dir", ""), disks=disks, nics=nics,
            boot=BootSpec(**prepared.get("boot", {})), extra=dict(vm.spec.extra),
        )

    def _load(self, vm_id: int) -> Vm:
        with self.uow(readonly=True) as uow:
            vm = uow.vms.get(vm_id)
        if vm is None:
            raise Conflict(f"VM {vm_id} vanished from the database")
        return vm

    def _move(self, vm: Vm, new: VmState, why: str, **changes: Any) -> None:
        now = self.clock.now()
        with self.uow() as uow:
            if not uow.vms.cas_state(vm.id or 0, vm.state, new.value, updated_at=now, **changes):
                raise Superseded()
            if new is S.DONE:
                self._finish(uow, vm, new)
            record(uow, vm.id or 0, now, "state", "system", f"{vm.state} -> {new.value} ({why})",
                   host=changes.get("host", vm.host), ip=vm.ip, mac=vm.mac)
            uow.commit()

    def _fail(self, vm: Vm, exc: CloudError) -> None:
        """Record the driver's message; roll a failed deploy back, else enter the failure twin."""
        state = vm.vm_state
        target = FAILURE_TWIN.get(state, S.FAILED)
        rollback_error = None
        if state in (S.PROLOG, S.BOOT) and vm.last_action in (None, VmAction.DEPLOY.value):
            try:
                self._rollback(vm)
                target = S.FAILED
            except Exception as rb_exc:  # keep the first error; the twin lets an admin decide
                rollback_error = f"; rollback also failed: {rb_exc}"
        message = exc.full_message + (rollback_error or "")
        now = self.clock.now()
        with self.uow() as uow:
            if uow.vms.cas_state(vm.id or 0, vm.state, target.value, error=message, updated_at=now):
                if target is S.FAILED:
                    self._finish(uow, vm, target)
                record(uow, vm.id or 0, now, "driver-error", "system",
                       f"{vm.state} failed: {message}", host=vm.host)
                record(uow, vm.id or 0, now, "state", "system", f"{vm.state} -> {target.value}",
                       host=vm.host)
                uow.commit()

    def _finish(self, uow: UnitOfWork, vm: Vm, final: VmState) -> None:
        """Release what the VM held, in the transaction that records its end."""
        for ext in self.extensions:
            ext.on_finish(uow, vm, final.value)

    def _rollback(self, vm: Vm) -> None:
        if vm.host is None or vm.host not in self.nodes:
            return
        node = self.nodes[vm.host]
        handle = self._handle(vm) or VmHandle(vm.id or 0, vm.host, {})
        node.hypervisor.kill(handle)
        for ext in self.extensions:
            ext.on_node_release(vm, node)
        node.storage.release(vm.id or 0, owner=vm.owner, quarantine=False)


def record_observation(
    uow: UnitOfWork, vm: Vm, observed: ObservedState, reason: str, at: Any
) -> VmState | None:
    """Reflect what a node saw on a stable VM; return the new state, or None when nothing changes."""
    state = vm.vm_state
    if state is S.RUNNING and observed is ObservedState.SHUTOFF:
        new = S.POWEROFF
        why = reason or "the guest powered itself off"
    elif state is S.RUNNING and observed in (ObservedState.CRASHED, ObservedState.MISSING):
        new = S.UNKNOWN
        why = reason or f"the hypervisor reports the VM {observed.value}"
    elif state is S.UNKNOWN and observed is ObservedState.RUNNING:
        new, why = S.RUNNING, "the hypervisor reports the VM running again"
    else:
        return None
    error = why if new is S.UNKNOWN else None
    if not uow.vms.cas_state(vm.id or 0, vm.state, new.value, error=error, updated_at=at):
        return None
    record(uow, vm.id or 0, at, "state", "node", f"{vm.state} -> {new.value} ({why})", host=vm.host)
    return new
