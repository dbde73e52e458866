"""Placement: which compute node runs a VM, and which nodes accept new VMs at all.

A node is enabled unless an administrator disabled it (OpenNebula's one.host.enable/disable).
With a `HostService` (the server's wiring) the state is the hosts table's: it survives a restart
and XML-RPC, REST and the CLI see the same one; without it (unit tests) flags live in memory.
`choose` (without a hosts table): the host a VM asked for (`spec.requested_host`, set by an
explicit deploy), else the first enabled node; with one, services/scheduling.py places VMs.
Imports core only.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from stratuslab.core.entities import Vm
from stratuslab.core.errors import Conflict, NotFound
from stratuslab.core.hosts import HostState
from stratuslab.core.node import Node
from stratuslab.services.hosts import HostService

HOST_LISTING = "one.hostpool.info"
ENABLE_HINT = "enable a host first (one.host.enable ID true)"


class Placement:
    def __init__(self, nodes: Mapping[str, Node], hosts: HostService | None = None) -> None:
        self.nodes = nodes
        self.hosts = hosts
        self._disabled: set[str] = set()
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """The nodes in the order of their OpenNebula host ids (0, 1, ...)."""
        return sorted(self.nodes)

    def is_enabled(self, name: str) -> bool:
        if self.hosts is not None:
            return self.hosts.accepts(name)
        with self._lock:
            return name not in self._disabled

    def require(self, name: str) -> None:
        if name not in self.nodes:
            raise NotFound("host", name, HOST_LISTING)

    def set_enabled(self, name: str, enabled: bool) -> None:
        self.require(name)
        if self.hosts is not None:
            self.hosts.set_enabled(None, name, enabled)  # the caller checked it is an admin
            return
        with self._lock:
            if enabled:
                self._disabled.discard(name)
            else:
                self._disabled.add(name)

    def set_state(self, name: str, state: HostState) -> None:
        """disabled / offline / monitored (enabled); in memory, offline is disabled."""
        self.require(name)
        if self.hosts is not None:
            self.hosts.set_state(None, name, state)  # the caller checked it is an admin
            return
        self.set_enabled(name, state is HostState.MONITORED)

    def one_state(self, name: str) -> int:
        """OpenNebula's host state number: INIT 0, MONITORED 2, ERROR 3, DISABLED 4, OFFLINE 8."""
        if self.hosts is None:
            return 2 if self.is_enabled(name) else 4
        try:
            state = self.hosts.show(None, name).state
        except NotFound:
            return 0
        return {HostState.INIT: 0, HostState.MONITORED: 2, HostState.ERROR: 3,
                HostState.DISABLED: 4, HostState.OFFLINE: 8}[state]

    def any_enabled(self) -> bool:
        return any(self.is_enabled(n) for n in self.nodes)

    def choose(self, vm: Vm) -> str:
        wanted = vm.spec.requested_host
        if wanted:
            self.require(str(wanted))
            if not self.is_enabled(str(wanted)):
                raise Conflict(f"host {wanted} asked for by VM {vm.id} is disabled",
                               hint=ENABLE_HINT)
            return str(wanted)
        for name in self.nodes:
            if self.is_enabled(name):
                return name
        raise Conflict(f"no enabled host can run VM {vm.id}: every host is disabled",
                       hint=ENABLE_HINT)
