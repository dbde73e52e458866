"""What travels between a front end and a node agent: the calls of a node's ports
(HypervisorPort, InstanceStoragePort) with their arguments and answers as JSON, and what an
agent reports (heartbeat, capacity, VM states).  The value objects are the ports' own
dataclasses, encoded field by field and decoded against their declared types, so an agent
accepts nothing but the shapes the ports take.  Only the standard library.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from stratuslab.core.errors import CloudError, DriverError, InvalidInput
from stratuslab.core.hypervisor import (
    DiskSpec,
    HypervisorCaps,
    NicSpec,
    Observation,
    VmHandle,
    VmSpec,
)
from stratuslab.core.instance import PreparedInstance, PrologRequest, QuarantineEntry
from stratuslab.core.stats import HostCapacity

#: (port, method) -> (argument name -> type, answer type); nothing else is callable
CALLS: dict[tuple[str, str], tuple[dict[str, Any], Any]] = {
    ("hypervisor", "start"): ({"spec": VmSpec}, VmHandle),
    ("hypervisor", "shutdown"): ({"handle": VmHandle, "timeout": float}, None),
    ("hypervisor", "kill"): ({"handle": VmHandle}, None),
    ("hypervisor", "poweroff"): ({"handle": VmHandle, "timeout": float}, None),
    ("hypervisor", "reboot"): ({"handle": VmHandle}, None),
    ("hypervisor", "suspend"): ({"handle": VmHandle}, VmHandle),
    ("hypervisor", "resume"): ({"handle": VmHandle, "spec": VmSpec}, VmHandle),
    ("hypervisor", "status"): ({"handle": VmHandle}, Observation),
    ("hypervisor", "list_vms"): ({}, list[Observation]),
    ("hypervisor", "console_log"): ({"handle": VmHandle}, bytes),
    ("hypervisor", "attach_disk"): ({"handle": VmHandle, "disk": DiskSpec}, str),
    ("hypervisor", "detach_disk"): ({"handle": VmHandle, "disk_name": str}, None),
    ("hypervisor", "attach_nic"): ({"handle": VmHandle, "nic": NicSpec}, str),
    ("hypervisor", "detach_nic"): ({"handle": VmHandle, "mac": str}, None),
    ("storage", "prepare"): ({"request": PrologRequest}, PreparedInstance),
    ("storage", "release"): ({"vm_id": int, "owner": str, "quarantine": bool}, None),
    ("storage", "quarantined"): ({}, list[QuarantineEntry]),
    ("storage", "purge"): ({"vm_id": int}, None),
}


@dataclass(frozen=True)
class AgentInfo:
    """An agent's description of itself (GET /agent/v1/info)."""

    host: str
    driver: str
    capabilities: HypervisorCaps
    version: str = ""


@dataclass(frozen=True)
class AgentReport:
    """What an agent pushes to its front end: heartbeat with capacity, the URL the front ends
    reach it at, and VM states (every VM it runs on a heartbeat; the changed ones on an event)."""

    version: str
    endpoint: str
    capacity: HostCapacity | None = None
    vms: tuple[Observation, ...] = ()


class FrontEndPort(Protocol):
    """The agent's way to its front end (drivers/node/uplink.py)."""

    def report(self, report: AgentReport) -> None: ...


def encode(value: Any) -> Any:
    """A value object (or a list, mapping, bytes, enum, scalar) as JSON-able data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


_SCALARS: dict[Any, tuple[type, ...]] = {int: (int,), float: (int, float), str: (str,),
                                         bool: (bool,)}


def decode(kind: Any, data: Any, where: str = "value") -> Any:
    """`data` (JSON) as a `kind`, refusing any other shape (InvalidInput naming the field)."""
    origin = typing.get_origin(kind)
    if kind is Any:
        return data
    if kind is None or kind is type(None):
        if data is not None:
            raise InvalidInput(f"{where} must be null")
        return None
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if data is None and type(None) in options:
            return None
        inner = [o for o in options if o is not type(None)]
        return decode(inner[0], data, where)
    if kind is bytes:
        try:
            return base64.b64decode(_check(data, (str,), where), validate=True)
        except ValueError:
            raise InvalidInput(f"{where} is not base64") from None
    if kind in _SCALARS:
        if isinstance(data, bool) and kind is not bool:
            raise InvalidInput(f"{where} must be a {kind.__name__}")
        return kind(_check(data, _SCALARS[kind], where))
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(data)
        except ValueError:
            raise InvalidInput(f"{where} is not a known {kind.__name__}") from None
    if origin in (tuple, list):
        args = typing.get_args(kind)
        items = [decode(args[0], v, f"{where}[{i}]")
                 for i, v in enumerate(_check(data, (list,), where))]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping) or kind in (dict, Mapping) or \
            origin is typing.get_origin(Mapping[str, Any]):
        args = typing.get_args(kind) or (str, Any)
        return {str(k): decode(args[1], v, f"{where}.{k}")
                for k, v in _check(data, (dict,), where).items()}
    if dataclasses.is_dataclass(kind):
        return _dataclass(kind, data, where)
    raise InvalidInput(f"{where}: cannot decode a {kind!r}")


def _check(data: Any, kinds: tuple[type, ...], where: str) -> Any:
    if not isinstance(data, kinds):
        raise InvalidInput(f"{where} must be a {kinds[0].__name__}")
    return data


def _dataclass(kind: Any, data: Any, where: str) -> Any:
    _check(data, (dict,), where)
    hints = typing.get_type_hints(kind)
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = set(data) - names
    if unknown:
        raise InvalidInput(f"{where} has unknown fields {sorted(unknown)[:5]}")
    values = {name: decode(hints[name], v, f"{where}.{name}") for name, v in data.items()}
    try:
        return kind(**values)
    except TypeError as exc:
        raise InvalidInput(f"{where}: {exc}") from None


def call_arguments(port: str, method: str, args: Any) -> dict[str, Any]:
    """The decoded arguments of an allowed call (InvalidInput for anything else)."""
    if (port, method) not in CALLS:
        raise InvalidInput(f"{port}.{method} is not a call a node agent answers")
    kinds, _answer = CALLS[(port, method)]
    _check(args, (dict,), "args")
    if set(args) != set(kinds):
        raise InvalidInput(f"{port}.{method} takes exactly {sorted(kinds)}")
    return {name: decode(kind, args[name], name) for name, kind in kinds.items()}


__all__ = ["CALLS", "AgentInfo", "AgentReport", "FrontEndPort", "call_arguments", "decode", "error_from",
           "encode"]


def error_from(kind: str, message: str, hint: str = "") -> CloudError:
    """The cloud error an agent answered, rebuilt on the front end with its kind and text."""
    classes = [c for c in _subclasses(CloudError) if c.kind.value == kind] or [DriverError]
    error: CloudError = classes[0].__new__(classes[0])
    CloudError.__init__(error, message, hint=hint)
    return error


def _subclasses(cls: type[CloudError]) -> list[type[CloudError]]:
    found: list[type[CloudError]] = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found
