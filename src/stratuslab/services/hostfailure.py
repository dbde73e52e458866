"""Host failure: a host whose heartbeat stopped goes to `error` and its running VMs to `unknown`
(never `poweroff`: they may still run there); a VM of that host is started elsewhere only after
the host was fenced (a site command, e.g. an IPMI power-off, ran and succeeded), so a guest never
runs twice.  Without a fencing command nothing is restarted.

The leader's round (`round`) marks stale hosts and, for VMs run with `--ha`, fences their host
and puts them back to `pending` (the scheduler loop places them on another host); an
administrator's `recover(NAME)` does the same for every `unknown` VM of a failed host.  The
fencing command is an argv list (never a shell string): `[scheduler] fence_command` or the
host's own FENCE_COMMAND attribute, `{host}` replaced by the host's name.  Imports core and
services only; the command runs through the `fence` callable the composition root gives.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from stratuslab.core.entities import Principal, Vm
from stratuslab.core.errors import CloudError, Conflict, Forbidden
from stratuslab.core.hosts import Host, HostState
from stratuslab.core.ports import Clock, Page, UnitOfWorkFactory, VmFilter
from stratuslab.core.states import VmAction, VmState, next_state
from stratuslab.services.common import record
from stratuslab.services.hosts import REPO, HostService

log = logging.getLogger(__name__)

Fence = Callable[[Sequence[str], float], None]  # argv, timeout in seconds; raises CloudError
ALL = Page(0, 100_000)
LIVE = (HostState.MONITORED, HostState.INIT)
RECOVERABLE = (HostState.ERROR, HostState.OFFLINE)
FENCE_HINT = ("set [scheduler] fence_command (an argv list that powers the host off, {host} "
              "replaced by its name), or bring the host back so its VMs report again")


class HostFailures:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, hosts: HostService, *,
                 fence: Fence, timeout: timedelta, fence_command: Sequence[str] = (),
                 fence_timeout: float = 60.0,
                 is_leader: Callable[[], bool] = lambda: True) -> None:
        self.uow = uow
        self.clock = clock
        self.hosts = hosts
        self.fence = fence
        self.timeout = timeout
        self.fence_command = tuple(fence_command)
        self.fence_timeout = fence_timeout
        self.is_leader = is_leader

    # -- the leader's round -------------------------------------------------------------------
    def round(self) -> None:
        if not self.is_leader():
            return
        stale_before = self.clock.now() - self.timeout
        for host in self.hosts.list():
            if host.state in LIVE and _older(host.heartbeat_at, stale_before):
                self._lost(host.name, stale_before)
        for host in self.hosts.list():
            if host.state is HostState.ERROR:
                self._restart(host, ha_only=True)

    def _lost(self, name: str, stale_before: Any) -> None:
        now = self.clock.now()
        with self.uow() as uow:
            host: Host | None = uow.repo(REPO).get(name, for_update=True)
            if host is None or host.state not in LIVE or not _older(host.heartbeat_at,
                                                                    stale_before):
                return  # a heartbeat arrived meanwhile
            assert host.heartbeat_at is not None
            uow.repo(REPO).set_state(name, HostState.ERROR, now)
            last = host.heartbeat_at.strftime("%Y-%m-%d %H:%M:%S")
            why = f"host {name} missed its heartbeats (last {last}); the VM may still run there"
            for vm in self._vms(uow, name, VmState.RUNNING):
                if uow.vms.cas_state(vm.id or 0, vm.state, VmState.UNKNOWN.value, error=why,
                                     updated_at=now):
                    record(uow, vm.id or 0, now, "state", "system",
                           f"running -> unknown ({why})", host=name)
            uow.commit()
        log.warning("host %s missed its heartbeats: error, its running VMs unknown", name)

    # -- the administrator --------------------------------------------------------------------
    def recover(self, principal: Principal, name: str) -> list[int]:
        """Fence a failed host, then put every `unknown` VM of it back to pending (the
        scheduler starts them elsewhere).  The ids of those VMs."""
        if not principal.is_admin:
            raise Forbidden(f"user {principal.user} may not recover host {name}",
                            hint="only administrators manage hosts")
        host = self.hosts.show(principal, name)
        if host.state not in RECOVERABLE:
            raise Conflict(f"host {name} is {host.state.value}; only a host in error or offline "
                           "is recovered (its VMs are restarted elsewhere)",
                           hint=f"take it out of service first: stratus host offline {name}")
        return self._restart(host, ha_only=False, actor=principal.user)

    # -- fencing, then restart elsewhere ------------------------------------------------------
    def _restart(self, host: Host, *, ha_only: bool, actor: str = "system") -> list[int]:
        with self.uow(readonly=True) as uow:
            vms = [vm for vm in self._vms(uow, host.name, VmState.UNKNOWN)
                   if vm.spec.ha or not ha_only]
        if not vms:
            return []
        argv = self.fence_argv(host)
        try:
            if not argv:
                raise Conflict(f"host {host.name} has no fencing command: its VMs are not "
                               "restarted elsewhere (they may still run there)", hint=FENCE_HINT)
            self.fence(argv, self.fence_timeout)
        except CloudError as exc:
            self._note(vms, f"not restarted: {exc.message}", host.name)
            if actor != "system":
                raise
            return []
        log.warning("host %s fenced (%s); restarting %d VM(s) elsewhere", host.name,
                    " ".join(argv), len(vms))
        return self._reschedule(vms, host.name, actor)

    def fence_argv(self, host: Host) -> list[str]:
        own = host.attributes.get("FENCE_COMMAND")
        argv = [str(a) for a in own] if isinstance(own, list) and own else list(self.fence_command)
        return [a.replace("{host}", host.name) for a in argv]

    def _reschedule(self, vms: Sequence[Vm], name: str, actor: str) -> list[int]:
        now = self.clock.now()
        moved = []
        target = next_state(VmState.UNKNOWN, VmAction.RESCHEDULE)
        assert target is not None
        with self.uow() as uow:
            for vm in vms:
                spec = vm.spec.with_(handle=None, prepared=None)
                if uow.vms.cas_state(vm.id or 0, VmState.UNKNOWN.value, target.value, host=None,
                                     spec=spec, error=None, updated_at=now):
                    record(uow, vm.id or 0, now, "state", actor,
                           f"unknown -> pending (host {name} fenced; restarted elsewhere)",
                           host=name)
                    moved.append(vm.id or 0)
            uow.commit()
        return moved

    def _note(self, vms: Sequence[Vm], why: str, name: str) -> None:
        """Say on each VM why it stays unknown (once per distinct reason)."""
        now = self.clock.now()
        with self.uow() as uow:
            for vm in vms:
                if vm.error != why and uow.vms.cas_state(vm.id or 0, vm.state, vm.state,
                                                         error=why, updated_at=now):
                    record(uow, vm.id or 0, now, "fence", "system", why, host=name)
            uow.commit()

    @staticmethod
    def _vms(uow: Any, host: str, state: VmState) -> list[Vm]:
        return [vm for vm in uow.vms.list(VmFilter(states=(state.value,)), ALL)
                if vm.host == host]


def _older(at: datetime | None, than: datetime) -> bool:
    """SQLite gives back naive UTC times, PostgreSQL aware ones."""
    return at is not None and (at if at.tzinfo else at.replace(tzinfo=UTC)) < than
