"""Decode XML-RPC arguments into backend requests: VM templates and pool filters.

`vm_request` turns a parsed OpenNebula template into a `VmRequest` (numbers checked, disks and
NICs split out, CONTEXT and INBOUND_PORTS decoded); `vm_query` decodes `one.vmpool.info`'s
filter flag / range / state arguments.  Imports only core and this package.
"""

from __future__ import annotations

import ipaddress
import math

from stratuslab.api.xmlrpc.backend import (
    AddressRange,
    DiskRequest,
    ImageAllocate,
    NetworkAllocate,
    NicRequest,
    Reservation,
    VmQuery,
    VmRequest,
)
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


def disk(vector: Vector) -> DiskRequest:
    known = {"IMAGE_ID", "IMAGE", "SOURCE", "TARGET"}
    return DiskRequest(
        image_id=_optional_int(vector, "IMAGE_ID", "DISK"),
        image=vector.get("IMAGE"),
        source=vector.get("SOURCE"),
        target=vector.get("TARGET"),
        attrs={k: v for k, v in vector.items() if k not in known},
    )


def nic(vector: Vector) -> NicRequest:
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


def _swap(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise InvalidInput(f"swap DISK SIZE={raw!r} is not a size in MiB")
    return int(raw)


def vm_shape(tpl: Template) -> tuple[int | None, int | None]:
    """`one.vm.resize`'s template -> (virtual CPUs, memory MiB); None keeps the current value."""
    cpu = _number(tpl, "CPU", float)
    vcpu = _number(tpl, "VCPU", int)
    memory = _number(tpl, "MEMORY", int)
    cpus = int(vcpu) if vcpu is not None else (max(1, round(cpu)) if cpu is not None else None)
    return cpus, int(memory) if memory is not None else None


def vm_request(tpl: Template) -> VmRequest:
    disks = tuple(disk(v) for v in tpl.vectors("DISK"))
    if not disks:
        raise InvalidInput(
            "the VM template has no DISK",
            hint='add one, e.g. DISK=[IMAGE_ID="0"] (list images with one.imagepool.info)',
        )
    cpu = _number(tpl, "CPU", float)
    vcpu = _number(tpl, "VCPU", int)
    memory = _number(tpl, "MEMORY", int)
    swap = next(
        (d.attrs.get("SIZE") for d in disks if d.attrs.get("TYPE", "").lower() == "swap"), None
    )
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
        nics=tuple(nic(v) for v in tpl.vectors("NIC")),
        context=context,
        inbound_ports=_ports(tpl.get("INBOUND_PORTS")),
        swap_mib=_swap(swap),
        template_text=render(tpl),
        requirements=tpl.get("SCHED_REQUIREMENTS") or "",
        rank=tpl.get("SCHED_RANK") or "",
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


def one_vector(tpl: Template, name: str) -> Vector:
    """The single NAME=[...] vector of an attach/add_ar/hold argument."""
    vectors = tpl.vectors(name)
    if len(vectors) != 1:
        raise InvalidInput(f"expected exactly one {name}=[...] vector, found {len(vectors)}")
    return vectors[0]


def _size(raw: str | None, what: str) -> int:
    try:
        size = int(raw or "1")
    except ValueError:
        raise InvalidInput(f"{what} SIZE={raw!r} is not an integer") from None
    if size < 1:
        raise InvalidInput(f"{what} SIZE={size} must be at least 1")
    return size


def address_range(vector: Vector) -> AddressRange:
    known = {"TYPE", "IP", "MAC", "SIZE", "AR_ID"}
    return AddressRange(
        type=vector.get("TYPE", "IP4").upper(),
        ip=vector.get("IP"),
        mac=vector.get("MAC"),
        size=_size(vector.get("SIZE"), "AR"),
        ar_id=_optional_int(vector, "AR_ID", "AR"),
        attrs={k: v for k, v in vector.items() if k not in known},
    )


def _legacy_ranges(tpl: Template) -> list[AddressRange]:
    """OpenNebula 3.x networks: TYPE=RANGED (NETWORK_ADDRESS/SIZE or IP_START/IP_END) or
    TYPE=FIXED with LEASES=[IP=..., MAC=...] vectors."""
    if tpl.value("TYPE", "").upper() == "FIXED":
        return [AddressRange(ip=v.get("IP"), mac=v.get("MAC")) for v in tpl.vectors("LEASES")]
    start, end = tpl.get("IP_START"), tpl.get("IP_END")
    if start and end:
        try:
            first, last = ipaddress.IPv4Address(start), ipaddress.IPv4Address(end)
        except ValueError:
            raise InvalidInput(f"IP_START {start!r} / IP_END {end!r} are not IPv4 addresses") from None
        if last < first:
            raise InvalidInput(f"IP_END {end} comes before IP_START {start}")
        return [AddressRange(ip=start, size=int(last) - int(first) + 1)]
    address = tpl.get("NETWORK_ADDRESS") or start
    if not address:
        return []
    size = tpl.value("NETWORK_SIZE", "254")
    sizes = {"A": "16777214", "B": "65534", "C": "254"}  # 3.x class names
    return [AddressRange(ip=address.split("/")[0], size=_size(sizes.get(size, size), "network"))]


def network_allocate(tpl: Template) -> NetworkAllocate:
    name = tpl.get("NAME")
    if not name:
        raise InvalidInput("the network template has no NAME", hint='add NAME="private"')
    ranges = [address_range(v) for v in tpl.vectors("AR")] or _legacy_ranges(tpl)
    return NetworkAllocate(
        name=name,
        bridge=tpl.get("BRIDGE"),
        vlan_id=tpl.get("VLAN_ID"),
        ranges=tuple(ranges),
        attrs={k: v for k, v in tpl.items if isinstance(v, str) and k not in ("NAME",)},
        template_text=render(tpl),
    )


def lease_address(tpl: Template) -> str:
    """LEASES=[IP="..."] (or MAC) of hold/release/addleases/rmleases."""
    lease = one_vector(tpl, "LEASES")
    address = lease.get("IP") or lease.get("MAC")
    if not address:
        raise InvalidInput('LEASES=[...] needs an IP (or MAC), e.g. LEASES=[IP="10.0.0.5"]')
    return address


def reservation(tpl: Template) -> Reservation:
    network_id = tpl.get("NETWORK_ID")
    ar_id = tpl.get("AR_ID")
    return Reservation(
        size=_size(tpl.get("SIZE"), "reservation"),
        name=tpl.get("NAME"),
        ar_id=int(ar_id) if ar_id and ar_id.isdigit() else None,
        ip=tpl.get("IP"),
        network_id=int(network_id) if network_id and network_id.isdigit() else None,
    )


def image_allocate(tpl: Template, datastore_id: int) -> ImageAllocate:
    name = tpl.get("NAME")
    if not name:
        raise InvalidInput("the image template has no NAME", hint='add NAME="my-image"')
    path, source = tpl.get("PATH"), tpl.get("SOURCE")
    if not path and not source and tpl.value("TYPE", "OS").upper() != "DATABLOCK":
        raise InvalidInput(f"image {name} has neither PATH nor SOURCE", hint='add PATH="/..."')
    size = _number(tpl, "SIZE", int)
    return ImageAllocate(
        name=name,
        path=path,
        source=source,
        type=tpl.value("TYPE", "OS").upper(),
        persistent=tpl.value("PERSISTENT", "NO").upper() in ("YES", "TRUE", "1"),
        format=tpl.get("FORMAT") or tpl.get("DRIVER"),
        size_mib=int(size) if size is not None else None,
        description=tpl.get("DESCRIPTION"),
        datastore_id=datastore_id,
        template_text=render(tpl),
    )



#: one.user.quota / one.group.quota VM=[...] keys -> our compute quota names and the divisor
#: from OpenNebula's unit to ours (CPU in cores, MEMORY in MiB, SYSTEM_DISK_SIZE MiB -> GiB)
_VM_QUOTA = {"VMS": ("vms", 1), "CPU": ("cpu", 1), "MEMORY": ("memory_mib", 1),
             "SYSTEM_DISK_SIZE": ("disk_gb", 1024)}


def vm_quota(tpl: Template) -> dict[str, int | None]:
    """A quota template -> limits to set: -1 keeps the current one, -2 is unlimited."""
    other = [name for name, _ in tpl.items if name != "VM"]
    if other:
        raise InvalidInput(f"{other[0]} quotas are not kept by this cloud; only VM=[VMS, CPU, "
                           "MEMORY, SYSTEM_DISK_SIZE]", hint="send a VM=[...] vector only")
    changes: dict[str, int | None] = {}
    for key, raw in one_vector(tpl, "VM").items():
        if key not in _VM_QUOTA:
            raise InvalidInput(f"VM quota {key} is not kept by this cloud",
                               hint="use VMS, CPU, MEMORY or SYSTEM_DISK_SIZE")
        try:
            value = float(raw)
        except ValueError:
            raise InvalidInput(f"VM quota {key}={raw!r} is not a number") from None
        if value < 0 and value not in (-1, -2):
            raise InvalidInput(f"VM quota {key}={raw} is negative",
                               hint="give 0 or more, -1 (keep) or -2 (unlimited)")
        name, unit = _VM_QUOTA[key]
        if value != -1:
            changes[name] = None if value == -2 else math.ceil(value / unit)
    return changes
