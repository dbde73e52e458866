"""What the cloud reports about its own load: per-host capacity and allocation, VMs by state,
jobs by kind and state (the cloud-load page and the Prometheus metrics are built from these).

Only the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

#: states whose VMs hold capacity on their host (a stopped or undeployed VM gave its host back)
HOLDING = ("prolog", "boot", "running", "shutdown", "poweroff-pending", "undeploying", "save",
           "suspended",
           "poweroff", "restore", "reboot", "epilog", "unknown", "prolog-failure", "boot-failure",
           "shutdown-failure", "save-failure", "restore-failure", "epilog-failure")


@dataclass(frozen=True)
class HostCapacity:
    cpus: int
    memory_mib: int
    load1: float = 0.0
    memory_available_mib: int = 0


@dataclass(frozen=True)
class VmCount:
    state: str
    host: str | None
    vms: int
    vcpu: int
    memory_mib: int


@dataclass(frozen=True)
class HostLoad:
    name: str
    capacity: HostCapacity | None  # None: the host did not answer
    allocated_vcpu: int = 0
    allocated_memory_mib: int = 0
    vms: int = 0


@dataclass(frozen=True)
class CloudLoad:
    hosts: list[HostLoad]
    vms_by_state: dict[str, int] = field(default_factory=dict)
    jobs: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, state) -> count
    users: int = 0


class StatsRepository(Protocol):
    def vm_counts(self) -> list[VmCount]: ...
    def job_counts(self) -> list[tuple[str, str, int]]: ...
    def user_count(self) -> int: ...
