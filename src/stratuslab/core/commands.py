"""Commands: the one vocabulary every front end builds (REST, XML-RPC, OCCI, CLI).

Only the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RunInstance:
    image_id: int
    instance_type: str | None = None
    count: int = 1
    cpu: int | None = None
    ram_mib: int | None = None
    swap_mib: int | None = None
    name: str | None = None
    idempotency_key: str | None = None
    hold: bool = False
    context_method: str = "cloud-init"
    context: Mapping[str, str] = field(default_factory=dict)
    ssh_keys: tuple[str, ...] = ()
    user_data: str | None = None
    volatile_gb: tuple[int, ...] = ()
    #: NIC requests, each {"network": name, "ip": address} (either may be absent)
    nics: tuple[Mapping[str, str], ...] = ()
    persistent_disks: tuple[str, ...] = ()  # volume UUIDs attached at launch
    readonly_disks: tuple[str, ...] = ()  # volume UUIDs or marketplace ids, read-only
    #: a marketplace identifier (27 characters) instead of image_id
    image_ref: str | None = None
    #: where it may run: a requirement expression over host attributes (core.requirements)
    requirements: str = ""
    #: how hosts are ranked for it: pack, stripe or load (or OpenNebula's SCHED_RANK forms);
    #: empty: the cloud's [scheduler] policy
    rank: str = ""
    #: backend hints that are not part of the public model (e.g. simulated failure injection)
    extra: Mapping[str, Any] = field(default_factory=dict)
