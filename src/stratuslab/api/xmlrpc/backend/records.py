"""The requests and records the XML-RPC adapter exchanges with its backend.

Requests are what the adapter decoded from the wire (templates, pool filters); records stand for
domains core does not model as entities yet (hosts, networks, VM templates, ACL rules,
datastores).  Plain frozen dataclasses; imports only core.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stratuslab.core.errors import InvalidInput
from stratuslab.core.states import VmState


@dataclass(frozen=True, slots=True)
class DiskRequest:
    image_id: int | None = None
    image: str | None = None  # image name (DISK=[IMAGE="..."])
    source: str | None = None  # path, URL or marketplace id (StratusLab client: DISK/SOURCE)
    target: str | None = None
    attrs: Mapping[str, str] = field(default_factory=dict)  # everything else, as given


@dataclass(frozen=True, slots=True)
class NicRequest:
    network_id: int | None = None
    network: str | None = None
    ip: str | None = None
    mac: str | None = None
    attrs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VmRequest:
    """A VM template, parsed: what `one.vm.allocate` / `one.template.instantiate` ask for."""

    name: str | None
    cpu: float | None
    vcpu: int | None
    memory_mib: int | None
    instance_type: str | None
    disks: tuple[DiskRequest, ...]
    nics: tuple[NicRequest, ...]
    context: Mapping[str, str]
    inbound_ports: tuple[int, ...]
    #: from a DISK=[TYPE=swap, SIZE=...] (StratusLab clients send one); that disk stays in disks
    swap_mib: int | None
    #: the full template text as rendered back (kept as the VM's TEMPLATE)
    template_text: str
    #: SCHED_REQUIREMENTS and SCHED_RANK (OpenNebula's scheduling attributes)
    requirements: str = ""
    rank: str = ""


@dataclass(frozen=True, slots=True)
class VmQuery:
    """`one.vmpool.info` arguments, decoded."""

    owner: str  # "mine" (-3), "group" (-4), "all" (-2), "mine+group" (-1), "user" (>= 0)
    user_id: int | None = None  # set when owner == "user"
    states: tuple[VmState, ...] | None = None  # None: any state
    offset: int = 0
    limit: int | None = None  # None: no limit
    #: OpenNebula's id range form (start, end): ids from lo to hi inclusive, hi None = no end
    id_range: tuple[int, int | None] | None = None


@dataclass(frozen=True, slots=True)
class AddressRange:
    """An OpenNebula address range (AR=[TYPE, IP, MAC, SIZE, ...]); ar_id set when it exists."""

    type: str = "IP4"  # IP4 | IP6 | IP4_6 | ETHER
    ip: str | None = None
    mac: str | None = None
    size: int = 1
    ar_id: int | None = None
    attrs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NetworkAllocate:
    """`one.vn.allocate`: 4.4+ AR vectors, or 3.x RANGED/FIXED networks turned into ranges."""

    name: str
    bridge: str | None
    vlan_id: str | None
    ranges: tuple[AddressRange, ...]
    attrs: Mapping[str, str]
    template_text: str


@dataclass(frozen=True, slots=True)
class Reservation:
    """`one.vn.reserve`: take `size` addresses into a new (or the given) reservation network."""

    size: int
    name: str | None = None
    ar_id: int | None = None
    ip: str | None = None
    network_id: int | None = None


@dataclass(frozen=True, slots=True)
class ImageAllocate:
    name: str
    path: str | None  # where to copy the image from (local path or URL)
    source: str | None  # an already-placed image (OpenNebula SOURCE)
    type: str  # OS | CDROM | DATABLOCK
    persistent: bool
    format: str | None
    size_mib: int | None
    description: str | None
    datastore_id: int
    template_text: str


@dataclass(frozen=True, slots=True)
class HostRecord:
    id: int
    name: str
    state: int = 2  # OpenNebula HOST_STATES: 2 MONITORED, 3 ERROR, 4 DISABLED, 8 OFFLINE
    im_mad: str = "stratuslab"
    vm_mad: str = "qemu"
    cluster_id: int = -1
    cluster: str = ""
    total_cpu: int = 0  # percent (100 per core)
    total_mem_kib: int = 0
    used_cpu: int = 0
    used_mem_kib: int = 0
    running_vms: int = 0
    vm_ids: tuple[int, ...] = ()
    attrs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NetworkRecord:
    id: int
    name: str
    owner: str
    group: str
    bridge: str = ""
    vlan_id: str = ""
    address_ranges: tuple[Mapping[str, Any], ...] = ()  # AR dicts: TYPE, IP, MAC, SIZE, ...
    used_leases: int = 0
    attrs: Mapping[str, str] = field(default_factory=dict)
    permissions: str = "um-u-----"  # owner/group/other rights, OpenNebula's nine letters
    template: str = ""  # the OpenNebula TEMPLATE it was given (vn.allocate, vn.update)
    parent_id: int | None = None  # set on a reservation's network (one.vn.reserve)...
    parent: str = ""  # ...with the parent network's name

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> NetworkRecord:
        """Accept a simple dict until the network domain has entities."""
        return cls(
            id=int(data["id"]),
            name=str(data["name"]),
            owner=str(data.get("owner", "oneadmin")),
            group=str(data.get("group", "oneadmin")),
            bridge=str(data.get("bridge", "")),
            vlan_id=str(data.get("vlan_id", "")),
            address_ranges=tuple(data.get("address_ranges", ())),
            used_leases=int(data.get("used_leases", 0)),
            attrs={str(k): str(v) for k, v in dict(data.get("attrs", {})).items()},
            permissions=str(data.get("permissions", "um-u-----")),
        )


@dataclass(frozen=True, slots=True)
class TemplateRecord:
    id: int
    name: str
    owner: str
    group: str
    body: str  # OpenNebula template text
    created_at: datetime | None = None
    permissions: str = "um-------"


@dataclass(frozen=True, slots=True)
class AclRecord:
    id: int
    user: int  # OpenNebula's 64-bit ACL masks
    resource: int
    rights: int
    zone: int = 0
    text: str = ""  # e.g. "#5 VM+IMAGE/* USE+MANAGE *"


@dataclass(frozen=True, slots=True)
class DatastoreRecord:
    id: int
    name: str
    ds_mad: str = "fs"
    tm_mad: str = "qcow2"
    base_path: str = ""
    type: int = 0  # 0 IMAGE, 1 SYSTEM, 2 FILE
    total_mb: int = 0
    free_mb: int = 0
    used_mb: int = 0
    image_ids: tuple[int, ...] = ()


#: OpenNebula chmod's nine arguments (owner use/manage/admin, group ..., other ...), each 1
#: (give), 0 (take) or -1 (keep)
Rights = tuple[int, int, int, int, int, int, int, int, int]


def merged_rights(current: str, rights: Rights) -> str:
    """The nine-letter rights (e.g. "um-u-----") after applying chmod's arguments to them."""
    if len(rights) != 9 or any(r not in (-1, 0, 1) for r in rights):
        raise InvalidInput(f"chmod rights {list(rights)!r} are not nine values of -1, 0 or 1",
                           hint="give owner/group/other use, manage, admin: 1 set, 0 clear, "
                                "-1 keep")
    letters = "uma" * 3
    return "".join(letters[i] if (r == 1 or (r == -1 and current[i] != "-")) else "-"
                   for i, r in enumerate(rights))


#: a VM's USER_TEMPLATE as (name, value) pairs, vectors as mappings, in the client's order
UserTemplate = tuple[tuple[str, str | Mapping[str, str]], ...]
