"""Hosts as data: each front end registers and heart-beats the nodes it serves; administrators
enable, disable or take hosts offline, and that choice is stored (it survives a restart and every
front end sees it).  Placement asks `accepts(name)`.  Imports core only.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Mapping
from typing import Any

from stratuslab.core.entities import Principal
from stratuslab.core.errors import CloudError, Forbidden, NotFound, Unsupported
from stratuslab.core.hosts import HELD_STATES, Host, HostState
from stratuslab.core.ports import Clock, UnitOfWorkFactory
from stratuslab.core.stats import HostCapacity
from stratuslab.core.templates import checked_text

log = logging.getLogger(__name__)

REPO = "hosts"
LISTING = "stratus host list"
#: the attribute holding the URL of a host's node agent (reported by the agent)
AGENT_URL = "AGENT_URL"
USER_TEMPLATE = "USER_TEMPLATE"  # the attribute one.host.update writes (OpenNebula text)


def _require_admin(principal: Principal, what: str) -> None:
    if not principal.is_admin:
        raise Forbidden(f"user {principal.user} may not {what}",
                        hint="only administrators manage hosts")


class HostService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, *,
                 served: Mapping[str, Callable[[], HostCapacity]] | None = None,
                 front_end: str = "", version: str = "",
                 reserved: tuple[int, int] = (0, 0),
                 attributes: Mapping[str, Mapping[str, object]] | None = None) -> None:
        self.uow = uow
        self.clock = clock
        self.served = dict(served or {})  # node name -> its capacity reader
        self.front_end = front_end
        self.version = version
        self.reserved = reserved  # (cpus, memory MiB) kept for the host itself
        self.attributes = {k: dict(v) for k, v in (attributes or {}).items()}
        #: fences a failed host and restarts its VMs elsewhere (services/hostfailure.py; the
        #: composition root sets it)
        self.recovery: Callable[[Principal, str], list[int]] | None = None

    # -- heartbeat: this front end's own nodes ----------------------------------------------
    def heartbeat(self) -> None:
        """Register (first time) and heart-beat every node this front end serves: capacity read
        now; a node whose capacity cannot be read is in `error`; disabled/offline stay so."""
        for name, read in self.served.items():
            try:
                cap: HostCapacity | None = read()
            except Exception:  # the node did not answer: say so on its row
                log.exception("host %s did not report its capacity", name)
                cap = None
            self._beat(name, cap)

    def report(self, name: str, cap: HostCapacity | None, *, version: str,
               endpoint: str) -> None:
        """A node agent's heartbeat (services/agent.py): its capacity, version and address."""
        self._beat(name, cap, version=version, extra={AGENT_URL: endpoint})

    def _beat(self, name: str, cap: HostCapacity | None, *, version: str | None = None,
              extra: Mapping[str, object] | None = None) -> None:
        now = self.clock.now()
        with self.uow() as uow:
            repo = uow.repo(REPO)
            host: Host | None = repo.get(name, for_update=True)
            fresh = host is None
            if host is None:
                host = Host(name=name)
            if cap is not None:
                host.cpus, host.memory_mib = cap.cpus, cap.memory_mib
                host.load1, host.memory_available_mib = cap.load1, cap.memory_available_mib
                host.heartbeat_at = now
            if host.state not in HELD_STATES:
                host.state = HostState.MONITORED if cap is not None else HostState.ERROR
            host.reserved_cpus, host.reserved_memory_mib = self.reserved
            host.version, host.front_end = version or self.version, self.front_end
            kept = {USER_TEMPLATE: host.attributes[USER_TEMPLATE]} if (
                USER_TEMPLATE in host.attributes) else {}  # what one.host.update wrote
            host.attributes = {**self.attributes.get(name, {}), **kept, **(extra or {}),
                               "NAME": name, "CPUS": host.cpus, "MEMORY_MIB": host.memory_mib}
            if fresh:
                repo.add(host, now)
            else:
                repo.update(host, now)
            uow.commit()

    # -- reading ----------------------------------------------------------------------------
    def list(self, principal: Principal | None = None) -> list[Host]:
        """Every host (any authenticated user may see them: capacity, state, not the VMs)."""
        with self.uow(readonly=True) as uow:
            return list(uow.repo(REPO).list())

    def show(self, principal: Principal | None, name: str) -> Host:
        with self.uow(readonly=True) as uow:
            host: Host | None = uow.repo(REPO).get(name)
        if host is None:
            raise NotFound("host", name, LISTING)
        return host

    def accepts(self, name: str) -> bool:
        """May a new VM be placed on `name`?  Only a monitored host (a node this front end
        serves but has not registered yet counts as monitored: its first heartbeat is due)."""
        with self.uow(readonly=True) as uow:
            host: Host | None = uow.repo(REPO).get(name)
        if host is None:
            return name in self.served
        return host.state is HostState.MONITORED

    # -- administrators ---------------------------------------------------------------------
    def set_state(self, principal: Principal | None, name: str, state: HostState) -> Host:
        """enable (-> monitored, or init before any heartbeat), disable, offline.  `principal`
        None: an already-authorized caller (XML-RPC's one.host.enable checks first)."""
        if principal is not None:
            _require_admin(principal, f"change the state of host {name}")
        self._register(name)
        now = self.clock.now()
        with self.uow() as uow:
            repo = uow.repo(REPO)
            host = self._locked(repo, name)
            if state is HostState.MONITORED and host.heartbeat_at is None:
                state = HostState.INIT
            repo.set_state(name, state, now)
            uow.commit()
            host.state = state
        log.info("host %s is now %s", name, state.value)
        return host

    def update_template(self, principal: Principal, name: str, text: str) -> Host:
        """Keep an administrator's free-form attributes of a host (OpenNebula host.update);
        heartbeats leave them alone."""
        _require_admin(principal, f"change the attributes of host {name}")
        checked_text(f"host {name}", text)
        self._register(name)
        now = self.clock.now()
        with self.uow() as uow:
            repo = uow.repo(REPO)
            host = self._locked(repo, name)
            host.attributes = {**host.attributes, USER_TEMPLATE: text}
            repo.update(host, now)
            uow.commit()
        return host

    def _register(self, name: str) -> None:
        """A served node not registered yet is registered (its first heartbeat) before a change."""
        if name in self.served and not self._known(name):
            self.heartbeat()

    @staticmethod
    def _locked(repo: Any, name: str) -> Host:
        """The host's row, locked for this transaction."""
        host: Host | None = repo.get(name, for_update=True)
        if host is None:
            raise NotFound("host", name, LISTING)
        return host

    def set_enabled(self, principal: Principal | None, name: str, enabled: bool) -> Host:
        return self.set_state(principal, name,
                              HostState.MONITORED if enabled else HostState.DISABLED)

    def flush(self, principal: Principal, name: str) -> None:
        """Move every VM away from `name`: needs migration, which this cloud does not have yet."""
        if not principal.is_admin:
            raise Forbidden(f"user {principal.user} may not flush host {name}",
                            hint="only administrators manage hosts")
        self.show(principal, name)
        raise Unsupported(f"flushing host {name} (it migrates every VM away; VM migration)",
                          hint=f"disable the host (stratus host disable {name}) so no new VM "
                               "lands there, and stop or recreate its VMs elsewhere")

    def recover(self, principal: Principal, name: str) -> builtins.list[int]:
        """`stratus host recover NAME`: fence the failed host, restart its VMs elsewhere."""
        if self.recovery is None:
            raise Unsupported(f"recovering host {name}", hint="this server has no host recovery")
        return self.recovery(principal, name)

    def _known(self, name: str) -> bool:
        try:
            with self.uow(readonly=True) as uow:
                return uow.repo(REPO).get(name) is not None
        except CloudError:
            return False
