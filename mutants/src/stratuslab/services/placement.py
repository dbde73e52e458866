"""Placement: which compute node runs a VM, and which nodes accept new VMs at all.

A node is enabled unless an administrator disabled it (OpenNebula's one.host.enable/disable);
the flags live in memory (nodes come from configuration, and a restart enables them all again).
`choose` is the LifecycleExecutor's `place`: the host a VM asked for (`spec["requested_host"]`,
set by an explicit deploy), else the first enabled node.  Imports core only.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from stratuslab.core.entities import Vm
from stratuslab.core.errors import Conflict, NotFound
from stratuslab.core.node import Node

HOST_LISTING = "one.hostpool.info"
ENABLE_HINT = "enable a host first (one.host.enable ID true)"


class Placement:
    def __init__(self, nodes: Mapping[str, Node]) -> None:
        self.nodes = nodes
        self._disabled: set[str] = set()
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """The nodes in the order of their OpenNebula host ids (0, 1, ...)."""
        return sorted(self.nodes)

    def is_enabled(self, name: str) -> bool:
        with self._lock:
            return name not in self._disabled

    def require(self, name: str) -> None:
        if name not in self.nodes:
            raise NotFound("host", name, HOST_LISTING)

    def set_enabled(self, name: str, enabled: bool) -> None:
        self.require(name)
        with self._lock:
            if enabled:
                self._disabled.discard(name)
            else:
                self._disabled.add(name)

    def any_enabled(self) -> bool:
        return any(self.is_enabled(n) for n in self.nodes)

    def choose(self, vm: Vm) -> str:
        wanted = vm.spec.get("requested_host")
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
