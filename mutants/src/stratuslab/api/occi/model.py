"""The OCCI 1.2 Core and Infrastructure model as data: categories, attributes, the registry.

Kinds (entity, resource, link, compute, network, storage, networkinterface, storagelink), the
infrastructure mixins (ipnetwork, ipnetworkinterface, os_tpl, resource_tpl, ssh_key, user_data)
and actions (compute start/stop/restart/suspend/save, network up/down, storage online/offline).
`Entity` and `Link` are the wire-level shapes every rendering parses into and renders from.
Only the standard library and core errors; must not import drivers, persistence or settings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

CORE = "http://schemas.ogf.org/occi/core#"
INFRA = "http://schemas.ogf.org/occi/infrastructure#"
COMPUTE_ACTION = "http://schemas.ogf.org/occi/infrastructure/compute/action#"
NETWORK_ACTION = "http://schemas.ogf.org/occi/infrastructure/network/action#"
STORAGE_ACTION = "http://schemas.ogf.org/occi/infrastructure/storage/action#"
NETWORK_MIXIN = "http://schemas.ogf.org/occi/infrastructure/network#"
NETIF_MIXIN = "http://schemas.ogf.org/occi/infrastructure/networkinterface#"
CREDENTIALS = "http://schemas.ogf.org/occi/infrastructure/credentials#"
COMPUTE_MIXIN = "http://schemas.ogf.org/occi/infrastructure/compute#"
#: schemes of the template mixins this cloud publishes
OS_TPL_SCHEME = "http://stratuslab.eu/occi/os_tpl#"
RESOURCE_TPL_SCHEME = "http://stratuslab.eu/occi/resource_tpl#"


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    type: str = "string"  # string | number | boolean | enum
    mutable: bool = True
    required: bool = False
    default: Any = None
    pattern: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class Category:
    """A Kind, Mixin or Action; identified by scheme + term."""

    scheme: str
    term: str
    cls: str  # kind | mixin | action
    title: str = ""
    attributes: tuple[Attribute, ...] = ()
    parent: str | None = None  # kinds: the related kind; mixins: what they depend on
    applies: tuple[str, ...] = ()  # mixins: kinds they apply to
    actions: tuple[str, ...] = ()
    location: str | None = None

    @property
    def type_id(self) -> str:
        return self.scheme + self.term

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)


@dataclass
class Link:
    kind: str
    target: str
    source: str = ""
    id: str | None = None
    location: str | None = None
    mixins: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    target_kind: str | None = None
    rel: str | None = None  # Link header rel (target kind, or an action for action links)


@dataclass
class Entity:
    """A resource as the wire sees it (kind and mixin ids are full scheme+term strings)."""

    kind: str
    mixins: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    location: str | None = None
    links: list[Link] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)

    @property
    def title(self) -> str | None:
        value = self.attributes.get("occi.core.title")
        return None if value is None else str(value)


def _attrs(*specs: tuple[Any, ...]) -> tuple[Attribute, ...]:
    return tuple(Attribute(*spec) for spec in specs)


_ENTITY = _attrs(("occi.core.id", "string", False), ("occi.core.title", "string"))
_RESOURCE = _attrs(("occi.core.summary", "string"))
_LINK = _attrs(
    ("occi.core.source", "string", True, True), ("occi.core.target", "string", True, True)
)


def _action(scheme: str, term: str, title: str, *attrs: Attribute) -> Category:
    return Category(scheme, term, "action", title, attrs)


def _method(pattern: str, default: str) -> Attribute:
    return Attribute("method", "enum", pattern=pattern, default=default)


COMPUTE_ACTIONS = (
    _action(COMPUTE_ACTION, "start", "Start the compute resource"),
    _action(
        COMPUTE_ACTION,
        "stop",
        "Stop the compute resource",
        _method("graceful|acpioff|poweroff", "graceful"),
    ),
    _action(
        COMPUTE_ACTION,
        "restart",
        "Restart the compute resource",
        _method("graceful|warm|cold", "graceful"),
    ),
    _action(
        COMPUTE_ACTION,
        "suspend",
        "Suspend the compute resource",
        _method("hibernate|suspend", "suspend"),
    ),
    _action(
        COMPUTE_ACTION,
        "save",
        "Save the compute resource",
        _method("hot|deferred", "hot"),
        Attribute("name"),
    ),
)
NETWORK_ACTIONS = (
    _action(NETWORK_ACTION, "up", "Activate the network"),
    _action(NETWORK_ACTION, "down", "Deactivate the network"),
)
STORAGE_ACTIONS = (
    _action(STORAGE_ACTION, "online", "Bring the storage online"),
    _action(STORAGE_ACTION, "offline", "Take the storage offline"),
)


def _ids(categories: Iterable[Category]) -> tuple[str, ...]:
    return tuple(c.type_id for c in categories)


ENTITY = Category(CORE, "entity", "kind", "Entity", _ENTITY, location="/entity/")
RESOURCE = Category(
    CORE,
    "resource",
    "kind",
    "Resource",
    _ENTITY + _RESOURCE,
    parent=ENTITY.type_id,
    location="/resource/",
)
LINK = Category(
    CORE, "link", "kind", "Link", _ENTITY + _LINK, parent=ENTITY.type_id, location="/link/"
)
COMPUTE = Category(
    INFRA,
    "compute",
    "kind",
    "Compute Resource",
    _attrs(
        ("occi.compute.architecture", "enum", True, False, None, "x86|x64"),
        ("occi.compute.cores", "number"),
        ("occi.compute.hostname", "string"),
        ("occi.compute.share", "number"),
        ("occi.compute.speed", "number"),
        ("occi.compute.memory", "number"),
        ("occi.compute.state", "enum", False, False, "inactive", "active|inactive|suspended|error"),
        ("occi.compute.state.message", "string", False),
    ),
    parent=RESOURCE.type_id,
    actions=_ids(COMPUTE_ACTIONS),
    location="/compute/",
)
NETWORK = Category(
    INFRA,
    "network",
    "kind",
    "Network Resource",
    _attrs(
        ("occi.network.vlan", "number"),
        ("occi.network.label", "string"),
        ("occi.network.state", "enum", False, False, "inactive", "active|inactive|error"),
        ("occi.network.state.message", "string", False),
    ),
    parent=RESOURCE.type_id,
    actions=_ids(NETWORK_ACTIONS),
    location="/network/",
)
STORAGE = Category(
    INFRA,
    "storage",
    "kind",
    "Storage Resource",
    _attrs(
        ("occi.storage.size", "number", True, True),
        ("occi.storage.state", "enum", False, False, "offline", "online|offline|error"),
        ("occi.storage.state.message", "string", False),
    ),
    parent=RESOURCE.type_id,
    actions=_ids(STORAGE_ACTIONS),
    location="/storage/",
)
NETWORKINTERFACE = Category(
    INFRA,
    "networkinterface",
    "kind",
    "Network interface link",
    _attrs(
        ("occi.networkinterface.interface", "string", False),
        ("occi.networkinterface.mac", "string"),
        ("occi.networkinterface.state", "enum", False, False, "inactive", "active|inactive|error"),
    ),
    parent=LINK.type_id,
    location="/link/networkinterface/",
)
STORAGELINK = Category(
    INFRA,
    "storagelink",
    "kind",
    "Storage link",
    _attrs(
        ("occi.storagelink.deviceid", "string"),
        ("occi.storagelink.mountpoint", "string"),
        ("occi.storagelink.state", "enum", False, False, "inactive", "active|inactive|error"),
    ),
    parent=LINK.type_id,
    location="/link/storagelink/",
)

IPNETWORK = Category(
    NETWORK_MIXIN,
    "ipnetwork",
    "mixin",
    "IP network",
    _attrs(
        ("occi.network.address", "string"),
        ("occi.network.gateway", "string"),
        ("occi.network.allocation", "enum", True, False, None, "dynamic|static"),
    ),
    applies=(NETWORK.type_id,),
)
IPNETWORKINTERFACE = Category(
    NETIF_MIXIN,
    "ipnetworkinterface",
    "mixin",
    "IP network interface",
    _attrs(
        ("occi.networkinterface.address", "string"),
        ("occi.networkinterface.gateway", "string"),
        ("occi.networkinterface.allocation", "enum", True, False, None, "dynamic|static"),
    ),
    applies=(NETWORKINTERFACE.type_id,),
)
OS_TPL = Category(INFRA, "os_tpl", "mixin", "OS template", applies=(COMPUTE.type_id,))
RESOURCE_TPL = Category(
    INFRA, "resource_tpl", "mixin", "Resource template", applies=(COMPUTE.type_id,)
)
SSH_KEY = Category(
    CREDENTIALS,
    "ssh_key",
    "mixin",
    "SSH credentials",
    _attrs(("occi.credentials.ssh.publickey", "string", True, True)),
    applies=(COMPUTE.type_id,),
)
USER_DATA = Category(
    COMPUTE_MIXIN,
    "user_data",
    "mixin",
    "Contextualization user data",
    _attrs(("occi.compute.userdata", "string", True, True)),
    applies=(COMPUTE.type_id,),
)

KINDS = (ENTITY, RESOURCE, LINK, COMPUTE, NETWORK, STORAGE, NETWORKINTERFACE, STORAGELINK)
MIXINS = (IPNETWORK, IPNETWORKINTERFACE, OS_TPL, RESOURCE_TPL, SSH_KEY, USER_DATA)
ACTIONS = COMPUTE_ACTIONS + NETWORK_ACTIONS + STORAGE_ACTIONS


def os_tpl_mixin(term: str, title: str) -> Category:
    return Category(
        OS_TPL_SCHEME,
        term,
        "mixin",
        title,
        parent=OS_TPL.type_id,
        applies=(COMPUTE.type_id,),
        location=f"/os_tpl/{term}/",
    )


def resource_tpl_mixin(term: str, title: str, cores: int, memory_gib: float) -> Category:
    attrs = (
        Attribute("occi.compute.cores", "number", False, False, cores),
        Attribute("occi.compute.memory", "number", False, False, memory_gib),
    )
    return Category(
        RESOURCE_TPL_SCHEME,
        term,
        "mixin",
        title,
        attrs,
        parent=RESOURCE_TPL.type_id,
        applies=(COMPUTE.type_id,),
        location=f"/resource_tpl/{term}/",
    )


class Registry:
    """Every category the server knows: the static model plus the template mixins."""

    def __init__(self, extra: Iterable[Category] = ()):
        self.categories: dict[str, Category] = {c.type_id: c for c in (*KINDS, *MIXINS, *ACTIONS)}
        for category in extra:
            self.categories[category.type_id] = category

    def get(self, type_id: str) -> Category | None:
        return self.categories.get(type_id)

    def schemes(self) -> set[str]:
        return {c.scheme for c in self.categories.values()}

    def by_location(self, location: str) -> Category | None:
        return next((c for c in self.categories.values() if c.location == location), None)
