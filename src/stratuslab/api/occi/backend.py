"""What the OCCI adapter needs from the services: the `OcciBackend` Protocol.

The adapter parses and renders OCCI; the backend decides (auth, permissions, state machine,
quotas).  It receives core entities/enums and the small request dataclasses below and returns
core entities (Vm, Image, InstanceType) or records for networks, storage and links, whose
domains are not modelled in core yet.  Every method may raise a CloudError; the adapter maps
its kind to an HTTP status in one table.  Imports only core; never drivers, persistence or
settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from stratuslab.core.auth import Credentials
from stratuslab.core.commands import VmCommand
from stratuslab.core.entities import Image, InstanceType, Principal, Vm
from stratuslab.core.occimixins import UserMixin


@dataclass(frozen=True, slots=True)
class ComputeRequest:
    """A compute creation: os_tpl gives the image (None: the cloud's default image), resource_tpl
    the instance type."""

    image_id: int | None
    instance_type: str | None = None
    cores: int | None = None
    memory_mib: int | None = None
    name: str | None = None
    ssh_keys: tuple[str, ...] = ()
    user_data: str | None = None  # base64, as OCCI carries it
    network_ids: tuple[int, ...] = ()  # networkinterface links given inline
    storage: tuple[tuple[str, str | None], ...] = ()  # (storage id, deviceid) storagelinks


@dataclass(frozen=True, slots=True)
class NetworkRequest:
    title: str | None = None
    vlan: int | None = None
    label: str | None = None
    address: str | None = None  # CIDR (ipnetwork mixin)
    gateway: str | None = None
    allocation: str | None = None  # dynamic | static


@dataclass(frozen=True, slots=True)
class NetworkRecord:
    id: int
    title: str
    state: str = "active"  # active | inactive | error
    vlan: int | None = None
    label: str | None = None
    address: str | None = None
    gateway: str | None = None
    allocation: str | None = "dynamic"


@dataclass(frozen=True, slots=True)
class StorageRecord:
    id: str  # storage ids are strings (volume UUIDs); compute and network ids are integers
    title: str
    size_gib: float
    state: str = "online"  # online | offline | error
    message: str | None = None


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """A networkinterface (compute -> network) or storagelink (compute -> storage)."""

    id: str
    kind: str  # "networkinterface" | "storagelink"
    compute_id: int
    target_id: int | str  # a network id, or a storage id
    attributes: Mapping[str, Any] = field(default_factory=dict)  # occi.* link attributes


class OcciBackend(Protocol):
    """The services, as the OCCI adapter uses them.  A method the services cannot do yet
    raises core.errors.Unsupported (a bare NotImplementedError alike): the client gets 501."""

    def authenticate(self, credentials: Credentials) -> Principal: ...

    # template mixins
    def os_templates(self, principal: Principal) -> Sequence[Image]: ...
    def resource_templates(self, principal: Principal) -> Sequence[InstanceType]: ...

    # compute
    def compute_create(self, principal: Principal, request: ComputeRequest) -> int: ...
    def compute_get(self, principal: Principal, vm_id: int) -> Vm: ...
    def compute_list(self, principal: Principal) -> Sequence[Vm]: ...
    def compute_action(self, principal: Principal, cmd: VmCommand) -> None: ...
    def compute_save(self, principal: Principal, vm_id: int, name: str | None) -> int: ...
    def compute_delete(self, principal: Principal, vm_id: int) -> None: ...
    def compute_update(
        self,
        principal: Principal,
        vm_id: int,
        *,
        name: str | None = None,
        cores: int | None = None,
        memory_mib: int | None = None,
    ) -> None: ...

    # network
    def network_create(self, principal: Principal, request: NetworkRequest) -> int: ...
    def network_get(self, principal: Principal, net_id: int) -> NetworkRecord: ...
    def network_list(self, principal: Principal) -> Sequence[NetworkRecord]: ...
    def network_action(self, principal: Principal, net_id: int, *, up: bool) -> None: ...
    def network_delete(self, principal: Principal, net_id: int) -> None: ...
    def network_update(
        self,
        principal: Principal,
        net_id: int,
        *,
        title: str | None = None,
        label: str | None = None,
    ) -> None: ...

    # storage
    def storage_create(self, principal: Principal, title: str | None, size_gib: float) -> str: ...
    def storage_get(self, principal: Principal, storage_id: str) -> StorageRecord: ...
    def storage_list(self, principal: Principal) -> Sequence[StorageRecord]: ...
    def storage_action(self, principal: Principal, storage_id: str, *, online: bool) -> None: ...
    def storage_delete(self, principal: Principal, storage_id: str) -> None: ...
    def storage_update(
        self,
        principal: Principal,
        storage_id: str,
        *,
        title: str | None = None,
        size_gib: float | None = None,
    ) -> None: ...

    # links (networkinterface, storagelink)
    def link_create(
        self,
        principal: Principal,
        kind: str,
        compute_id: int,
        target_id: int | str,
        attributes: Mapping[str, Any],
    ) -> str: ...
    def link_list(
        self, principal: Principal, compute_id: int | None = None
    ) -> Sequence[LinkRecord]: ...
    def link_delete(self, principal: Principal, link_id: str) -> None: ...

    # user-defined mixins (tags), each user's own
    def user_mixins(self, principal: Principal) -> Sequence[UserMixin]: ...
    def mixin_define(self, principal: Principal, mixin: UserMixin) -> UserMixin: ...
    def mixin_remove(self, principal: Principal, type_id: str) -> None: ...
    def mixin_tag(
        self, principal: Principal, location: str, members: Sequence[str], mode: str
    ) -> None: ...
