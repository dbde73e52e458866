"""Compute quotas (VMs, vCPUs, memory, disk per user and per group) and host capacity.

Usage is never a counter: it is the sum over the VMs that hold resources (every state but `done`
and `failed`), read in the same transaction that adds or grows a VM, so it always matches the VM
records whatever crashed in between.  Only the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Protocol

from stratuslab.core.errors import Conflict, QuotaExceeded
from stratuslab.core.states import VmState

#: states whose VMs hold no resources (a failed VM's deploy was rolled back; a retry reserves)
RELEASED: frozenset[VmState] = frozenset({VmState.DONE, VmState.FAILED})
#: (field, unit as users read it, the `stratus quota set` option)
RESOURCES: tuple[tuple[str, str, str], ...] = (
    ("vms", "VMs", "--vms"),
    ("cpu", "vCPUs", "--cpu"),
    ("memory_mib", "MiB of memory", "--memory"),
    ("disk_gb", "GiB of disk", "--disk"),
)


class SubjectKind(StrEnum):
    USER = "user"
    GROUP = "group"


@dataclass(frozen=True, slots=True)
class Subject:
    kind: SubjectKind
    name: str

    def __str__(self) -> str:
        return f"{self.kind.value} {self.name}"


@dataclass(frozen=True, slots=True)
class ComputeQuota:
    """Limits of one user or group; None: unlimited."""

    vms: int | None = None
    cpu: int | None = None
    memory_mib: int | None = None
    disk_gb: int | None = None


@dataclass(frozen=True, slots=True)
class ComputeUsage:
    """What VMs hold (or a request asks for)."""

    vms: int = 0
    cpu: int = 0
    memory_mib: int = 0
    disk_gb: int = 0

    def __add__(self, other: ComputeUsage) -> ComputeUsage:
        return ComputeUsage(*(getattr(self, f.name) + getattr(other, f.name)
                              for f in fields(self)))

    def __mul__(self, n: int) -> ComputeUsage:
        return ComputeUsage(*(getattr(self, f.name) * n for f in fields(self)))


@dataclass(frozen=True, slots=True)
class QuotaReport:
    subject: Subject
    limits: ComputeQuota
    usage: ComputeUsage
    own: bool  # the subject has limits of its own (else the settings' defaults apply)


class ComputeQuotaRepo(Protocol):
    """uow.repo("compute_quotas"): limits set by administrators, usage read from the VMs."""

    def limit(self, subject: Subject) -> ComputeQuota | None: ...
    def set_limit(self, subject: Subject, quota: ComputeQuota | None) -> None: ...
    def usage(self, subject: Subject | None) -> ComputeUsage:
        """What the subject's VMs hold; None: every VM of the cloud."""
        ...

    def lock(self, subject: Subject | None) -> None:
        """Serialize reservations of `subject` (None: the whole cloud's capacity) until the
        transaction ends (SQLite writers are serialized already)."""
        ...


class ComputeQuotaExceeded(QuotaExceeded):
    def __init__(self, subject: Subject, unit: str, option: str, *, limit: int, used: int,
                 asked: int) -> None:
        who = subject.name if subject.kind is SubjectKind.USER else f"group {subject.name}"
        super().__init__(
            f"{subject}'s quota of {limit} {unit} would be exceeded: {used} in use, "
            f"{asked} more asked",
            hint=f"end VMs you no longer need (stratus kill-instance ID), ask for less, or ask "
                 f"an administrator to raise it (stratus quota set --{subject.kind.value} "
                 f"{who.removeprefix('group ')} {option} N)")


class CapacityExceeded(Conflict):
    """The hosts cannot hold the VM: refused at once rather than left pending for ever."""
