"""Decode XML-RPC arguments into backend requests: VM templates and pool filters.

`vm_request` turns a parsed OpenNebula template into a `VmRequest` (numbers checked, disks and
NICs split out, CONTEXT and INBOUND_PORTS decoded); `vm_query` decodes `one.vmpool.info`'s
filter flag / range / state arguments.  Imports only core and this package.
"""

from __future__ import annotations

from stratuslab.api.xmlrpc.backend import DiskRequest, NicRequest, VmQuery, VmRequest
from stratuslab.api.xmlrpc.codes import states_for_filter
from stratuslab.api.xmlrpc.template import Template, Vector, render
from stratuslab.core.errors import InvalidInput

_FILTERS = {-4: "group", -3: "mine", -2: "all", -1: "mine+group"}


def _number(tpl: Template, name: str, kind: type[int] | type[float]) -> int | float | None:
    raw = tpl.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = kind(raw.strip())
    except ValueError:
        raise InvalidInput(
            f"template attribute {name}={raw!r} is not a {kind.__name__}",
            hint=f'write it as {name}="{1 if kind is int else 0.5}"',
        ) from None
    if value <= 0:
        raise InvalidInput(f"template attribute {name}={raw!r} must be positive")
    return value


def _optional_int(vector: Vector, key: str, what: str) -> int | None:
    raw = vector.get(key)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{what} {key}={raw!r} is not an integer id") from None


def _disk(vector: Vector) -> DiskRequest:
    known = {"IMAGE_ID", "IMAGE", "SOURCE", "TARGET"}
    return DiskRequest(
        image_id=_optional_int(vector, "IMAGE_ID", "DISK"),
        image=vector.get("IMAGE"),
        source=vector.get("SOURCE"),
        target=vector.get("TARGET"),
        attrs={k: v for k, v in vector.items() if k not in known},
    )


def _nic(vector: Vector) -> NicRequest:
    known = {"NETWORK_ID", "NETWORK", "IP", "MAC"}
    return NicRequest(
        network_id=_optional_int(vector, "NETWORK_ID", "NIC"),
        network=vector.get("NETWORK"),
        ip=vector.get("IP"),
        mac=vector.get("MAC"),
        attrs={k: v for k, v in vector.items() if k not in known},
    )


def _ports(raw: str | None) -> tuple[int, ...]:
    """INBOUND_PORTS="22, 80 443" (commas and/or blanks) -> (22, 80, 443)."""
    if not raw:
        return ()
    ports = []
    for word in raw.replace(",", " ").split():
        if not word.isdigit() or not 0 < int(word) < 65536:
            raise InvalidInput(f"INBOUND_PORTS entry {word!r} is not a port number (1-65535)")
        ports.append(int(word))
    return tuple(ports)


def vm_request(tpl: Template) -> VmRequest:
    disks = tuple(_disk(v) for v in tpl.vectors("DISK"))
    if not disks:
        raise InvalidInput(
            "the VM template has no DISK",
            hint='add one, e.g. DISK=[IMAGE_ID="0"] (list images with one.imagepool.info)',
        )
    cpu = _number(tpl, "CPU", float)
    vcpu = _number(tpl, "VCPU", int)
    memory = _number(tpl, "MEMORY", int)
    context: dict[str, str] = {}
    for vector in tpl.vectors("CONTEXT"):
        context.update(vector)
    return VmRequest(
        name=tpl.get("NAME"),
        cpu=float(cpu) if cpu is not None else None,
        vcpu=int(vcpu) if vcpu is not None else None,
        memory_mib=int(memory) if memory is not None else None,
        instance_type=tpl.get("INSTANCE_TYPE"),
        disks=disks,
        nics=tuple(_nic(v) for v in tpl.vectors("NIC")),
        context=context,
        inbound_ports=_ports(tpl.get("INBOUND_PORTS")),
        template_text=render(tpl),
    )


def vm_query(filter_flag: int, start: int, end: int, state: int = -1) -> VmQuery:
    if filter_flag < -4:
        raise InvalidInput(f"filter flag {filter_flag} is not one of -4, -3, -2, -1 or a user id")
    owner = _FILTERS.get(filter_flag, "user")
    states = states_for_filter(state) if state >= -2 else None
    if state < -2:
        raise InvalidInput(f"state filter {state} is not -2 (any), -1 (not done) or a STATE")
    if end < -1:  # paging: start is the offset, -end the page size
        return VmQuery(
            owner,
            user_id=filter_flag if owner == "user" else None,
            states=states,
            offset=max(start, 0),
            limit=-end,
        )
    id_range = None if (start, end) == (-1, -1) else (max(start, 0), None if end == -1 else end)
    return VmQuery(
        owner, user_id=filter_flag if owner == "user" else None, states=states, id_range=id_range
    )
