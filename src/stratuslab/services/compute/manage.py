"""Managing existing VMs: rename, resize (quota-checked), chown, user template, hosts, deploy by
hand, migrate.  Each change is one transaction through `ComputeBase._change`.  Imports core and
services below it."""

from __future__ import annotations

from collections.abc import Mapping

from stratuslab.core.commands import ReleaseVm
from stratuslab.core.entities import Job, Principal, Vm
from stratuslab.core.errors import Conflict, Forbidden, InvalidInput, InvalidState, NotFound
from stratuslab.core.ports import UnitOfWork
from stratuslab.core.quotas import ComputeUsage
from stratuslab.core.states import VmState
from stratuslab.services.compute.base import ComputeBase
from stratuslab.services.compute.rules import CONTEXT_KEY_RE, MAX_CPU, MAX_RAM_MIB, check_name
from stratuslab.services.placement import HOST_LISTING
from stratuslab.services.policy import check_lock_level, checked_permissions


class ManageMixin(ComputeBase):
    def rename(self, principal: Principal, vm_id: int, name: str) -> Vm:
        check_name(name)
        old = self.get(principal, vm_id, action="update").name

        def change(_uow: UnitOfWork, vm: Vm) -> None:
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

        def change(uow: UnitOfWork, current: Vm) -> None:
            if current.vm_state is not VmState.POWEROFF:  # moved since the check above
                raise InvalidState(what="VM", name=str(vm_id), state=current.state,
                                   action="change its CPUs or memory", allowed="poweroff")
            new_cpu = cpu if cpu is not None else current.vcpu
            new_ram = ram_mib if ram_mib is not None else current.memory_mib
            grow = ComputeUsage(0, max(new_cpu - current.vcpu, 0),
                                max(new_ram - current.memory_mib, 0), 0)
            self.reserve(uow, principal, current, grow, f"resizing VM {vm_id} ({current.name})",
                         size=(new_cpu, new_ram))
            current.vcpu, current.memory_mib = new_cpu, new_ram
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

        def change(_uow: UnitOfWork, vm: Vm) -> None:
            vm.owner = user.name if user is not None else vm.owner
            vm.group = grp.name if grp is not None else vm.group
        after = f"{user.name if user else '-'}:{grp.name if grp else '-'}"
        return self._change(principal, vm_id, "chown", f"chown: {after}", change)

    def set_lock(self, principal: Principal, vm_id: int, level: int) -> Vm:
        """Lock (a LOCK_LEVELS level) or unlock (0) a VM: MANAGE on it, as OpenNebula."""
        check_lock_level(level)

        def change(_uow: UnitOfWork, vm: Vm) -> None:
            vm.lock = level
        return self._change(principal, vm_id, "manage", f"lock level {level}", change,
                            locked=True)

    def chmod(self, principal: Principal, vm_id: int, permissions: str) -> Vm:
        """Share a VM with its group or everyone (owner/group/other rights, OpenNebula chmod):
        MANAGE on the VM; only administrators hand out the admin right."""
        text = checked_permissions(principal, permissions, what=f"VM {vm_id}")

        def change(_uow: UnitOfWork, vm: Vm) -> None:
            vm.permissions = text
        return self._change(principal, vm_id, "manage", f"chmod: {text}", change)

    def update_user_template(self, principal: Principal, vm_id: int,
                             values: Mapping[str, object], *, merge: bool) -> Vm:
        """Replace (or merge into) the VM's free-form user attributes; the deploy ignores them."""
        for key in values:
            if not CONTEXT_KEY_RE.match(key):
                raise InvalidInput(f"attribute name {key!r} is not valid",
                                   hint="use [A-Za-z_][A-Za-z0-9_]*")

        def change(_uow: UnitOfWork, vm: Vm) -> None:
            base = dict(vm.spec.user_template) if merge else {}
            vm.spec = vm.spec.with_(user_template={**base, **values})
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

        def change(_uow: UnitOfWork, vm: Vm) -> None:
            if vm.vm_state is not state:
                raise InvalidState(what="VM", name=str(vm_id), state="changing",
                                   action="deploy", allowed="a stable state; retry shortly")
            vm.spec = vm.spec.with_(requested_host=host)
        self._change(principal, vm_id, "action", f"deploy to host {host}", change)
        return self.act(principal, ReleaseVm(vm_id)) if state is VmState.HOLD else None

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
