"""What a node needs to prepare and tear down an instance directory (prolog / epilog).

Only the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from stratuslab.core.hypervisor import BootSpec, DiskSpec

#: context keys StratusLab writes itself (a user's --context cannot set them)
RESERVED_CONTEXT_KEYS = frozenset({"SSH_PUBLIC_KEY", "SET_HOSTNAME", "HOSTNAME", "INSTANCE_ID"})
RESERVED_CONTEXT_PREFIXES = ("ETH",)


def is_reserved_context_key(key: str) -> bool:
    upper = key.strip().upper().replace("-", "_")
    return upper in RESERVED_CONTEXT_KEYS or upper.startswith(RESERVED_CONTEXT_PREFIXES)


@dataclass(frozen=True, slots=True)
class ContextSpec:
    """Contextualization for one VM (cloud-init NoCloud seed, optionally the OpenNebula CD)."""

    instance_id: str
    hostname: str
    method: str = "cloud-init"  # cloud-init | one
    ssh_keys: tuple[str, ...] = ()
    user_data: str | None = None  # a cloud-config or a MIME multipart built from --cloud-init
    extra: Mapping[str, str] = field(default_factory=dict)  # --context K=V pairs
    #: per-NIC network facts: mac, ip, prefix, gateway, ipv6, dns
    networks: tuple[Mapping[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class PrologRequest:
    vm_id: int
    name: str
    image_path: str
    image_format: str
    boot: BootSpec = field(default_factory=BootSpec)
    swap_mib: int = 0
    volatile_gb: tuple[int, ...] = ()
    context: ContextSpec | None = None


@dataclass(frozen=True, slots=True)
class PreparedInstance:
    instance_dir: str
    disks: tuple[DiskSpec, ...]
    boot: BootSpec = field(default_factory=BootSpec)


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    vm_id: int
    owner: str
    path: str
    quarantined_at: float  # epoch seconds
    size_bytes: int = 0


class InstanceStoragePort(Protocol):
    """Node-side disks of instances: overlays, swap, volatile disks, context media, quarantine.

    Drivers register under the entry point group `stratuslab.instance_storage` and are called
    as `cls(instances_dir, quarantine_dir)`; tests/contract/instance_storage_contract.py is the
    suite each one passes."""

    def prepare(self, request: PrologRequest) -> PreparedInstance: ...

    def release(self, vm_id: int, *, owner: str, quarantine: bool) -> None:
        """Remove the instance directory, or move it to quarantine.  Idempotent."""
        ...

    def quarantined(self) -> list[QuarantineEntry]: ...

    def purge(self, vm_id: int) -> None:
        """Delete a quarantined instance directory; NotFound when none is quarantined."""
        ...
