"""`InstanceSpec`: what a VM record holds beyond its columns (`Vm.spec`), typed and versioned.

Stored as JSON in `vms.spec` with its `schema_version` (`SPEC_SCHEMA`).  Version 1 was the free
dictionary of the first sessions (no version key, keys added by whoever needed one); migration
0018 rewrote every row into version 2, and `from_json` still reads a version-1 dictionary the
same way (a server meeting a row the migration has not seen).  Keys an older shape had that no
field takes are kept under `leftover`, never read.

Which module writes what: run-instance the request fields; the scheduler's inputs
(`requested_host`, `requirements`, `sched_policy`) come from deploy-to-host and templates, and
run-instance --count N tags its VMs with one `batch`; the
network extension `networks` (the facts contextualization writes: mac, ip, prefix, gateway,
ipv6, dns), `nics` (network and security groups per NIC) and `inbound_ports`; the marketplace
extension `marketplace_disks`; the job runner `prepared` (instance dir, disks, NICs, boot) and
`handle` (the hypervisor's {"host", "data"}); one.vm.update `user_template`.  `disks` and
`prev_state` are views the XML-RPC adapter fills on the copy it renders; they are never stored.
Only the standard library.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stratuslab.core.errors import Conflict

#: the version `to_json` writes; bump it with a migration (persistence/migrations) and a reader
SPEC_SCHEMA = 2

_NOT_STORED = ("disks", "prev_state")


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    # what run-instance asked for
    context_method: str = "cloud-init"
    context: Mapping[str, str] = field(default_factory=dict)
    ssh_keys: Sequence[str] = ()
    user_data: str | None = None
    volatile_gb: Sequence[int] = ()
    #: backend hints that are not part of the public model (e.g. simulated failure injection)
    extra: Mapping[str, Any] = field(default_factory=dict)
    # placement
    requested_host: str | None = None
    requirements: str = ""
    sched_policy: str = ""
    batch: str | None = None  # the VMs of one run-instance --count N, placed in one decision
    ha: bool = False  # restarted elsewhere by the leader when its host fails (--ha)
    # networking
    networks: Sequence[Mapping[str, Any]] = ()
    nics: Sequence[Mapping[str, Any]] = ()
    inbound_ports: Sequence[int] = ()
    # marketplace images attached read-only, checked again before each boot
    marketplace_disks: Sequence[str] = ()
    marketplace_file_locations: bool = False  # file: locations allowed (admins' VMs only)
    # the node's work
    prepared: Mapping[str, Any] | None = None
    handle: Mapping[str, Any] | None = None
    user_template: Mapping[str, Any] = field(default_factory=dict)
    leftover: Mapping[str, Any] = field(default_factory=dict)
    # views (XML-RPC rendering), never stored
    disks: Sequence[Mapping[str, Any]] = ()
    prev_state: str | None = None

    def __post_init__(self) -> None:
        # one shape whatever the source (a command's tuples, a stored row's JSON lists), so a
        # spec read back equals the spec that was written
        for name in _SEQUENCES:
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))

    def with_(self, **changes: Any) -> InstanceSpec:
        """A copy with `changes` (field names)."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema_version": SPEC_SCHEMA}
        for f in dataclasses.fields(self):
            if f.name not in _NOT_STORED:
                out[f.name] = _plain(getattr(self, f.name))
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> InstanceSpec:
        """Read a stored spec of this version or version 1 (see the module docstring)."""
        data = dict(data or {})
        version = data.pop("schema_version", 1)
        if not isinstance(version, int) or version > SPEC_SCHEMA:
            raise Conflict(f"a VM record has spec schema {version!r}, newer than this server's "
                           f"{SPEC_SCHEMA}", hint="run the newer server, or upgrade this one")
        names = {f.name for f in dataclasses.fields(cls)} - set(_NOT_STORED)
        leftover = dict(data.pop("leftover", None) or {})
        leftover.update({k: data.pop(k) for k in list(data) if k not in names})
        known = {k: v for k, v in data.items() if v is not None or k in _NULLABLE}
        return cls(**known, leftover=leftover)


_SEQUENCES = ("ssh_keys", "volatile_gb", "networks", "nics", "inbound_ports",
              "marketplace_disks", "disks")
_NULLABLE = frozenset({"user_data", "requested_host", "batch", "prepared", "handle"})


def _plain(value: Any) -> Any:
    """JSON-ready: sequences as lists, mappings as dicts (recursively)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
