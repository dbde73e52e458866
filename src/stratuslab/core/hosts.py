"""Hosts as data: a compute node's state, capacity (total, reserved for the host itself,
allocated to VMs, used) and the version of the software that serves it.

States (OpenNebula's): `init` (registered, no heartbeat yet), `monitored` (heart-beating),
`error` (heartbeats missed), `disabled` (an administrator keeps new VMs off it; running VMs stay),
`offline` (out of service).  Only `monitored` hosts accept new VMs.  Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class HostState(StrEnum):
    INIT = "init"
    MONITORED = "monitored"
    ERROR = "error"
    DISABLED = "disabled"
    OFFLINE = "offline"


#: states an administrator sets; the others follow the heartbeats
ADMIN_STATES = (HostState.DISABLED, HostState.OFFLINE)
#: states a heartbeat never leaves (only an administrator's enable does)
HELD_STATES = frozenset(ADMIN_STATES)


@dataclass
class Host:
    name: str
    state: HostState = HostState.INIT
    cpus: int = 0
    memory_mib: int = 0
    reserved_cpus: int = 0
    reserved_memory_mib: int = 0
    load1: float = 0.0
    memory_available_mib: int = 0
    version: str = ""
    front_end: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    heartbeat_at: datetime | None = None
    id: int | None = None
    allocated_vcpu: int = 0  # of the VMs holding capacity on it (read, never stored)
    allocated_memory_mib: int = 0
    vms: int = 0

    @property
    def free_cpus(self) -> int:
        return self.cpus - self.reserved_cpus - self.allocated_vcpu

    @property
    def free_memory_mib(self) -> int:
        return self.memory_mib - self.reserved_memory_mib - self.allocated_memory_mib

    @property
    def used_memory_mib(self) -> int:
        return max(0, self.memory_mib - self.memory_available_mib) if self.memory_mib else 0
