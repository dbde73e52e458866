"""The OCCI operations on kinds, mixin collections and links, over the backend.

Synchronous (the router runs them in a worker thread); each takes a `Call` (backend, principal,
registry) and returns model entities or ids.  No HTTP here and no business logic: translation
goes through `convert`.  Imports only core and this package.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from stratuslab.api.occi import convert
from stratuslab.api.occi import model as m
from stratuslab.api.occi.backend import OcciBackend
from stratuslab.api.occi.textfmt import OcciError, bad
from stratuslab.core.entities import Image, InstanceType, Principal
from stratuslab.core.occimixins import UserMixin

KIND_COLLECTIONS = ("compute", "network", "storage")
LINK_COLLECTIONS = ("networkinterface", "storagelink")


@dataclass
class Call:
    backend: OcciBackend
    principal: Principal

    @cached_property
    def images(self) -> Sequence[Image]:
        return self.backend.os_templates(self.principal)

    @cached_property
    def types(self) -> Sequence[InstanceType]:
        return self.backend.resource_templates(self.principal)

    @cached_property
    def user_mixins(self) -> Sequence[UserMixin]:
        return self.backend.user_mixins(self.principal)

    @cached_property
    def registry(self) -> m.Registry:
        """The server's categories and the caller's own mixins (never shadowing the former)."""
        registry = m.Registry(convert.template_mixins(self.images, self.types))
        for mixin in self.user_mixins:
            registry.categories.setdefault(mixin.type_id, convert.user_mixin(mixin))
        return registry

    def tagged(self, entity: m.Entity) -> m.Entity:
        """The entity with the caller's user mixins that tag it."""
        entity.mixins += [u.type_id for u in self.user_mixins if entity.location in u.members]
        return entity


def _sid(ident: str) -> str:
    """Storage ids are strings (volume UUIDs); the backend says whether one exists."""
    if not ident or "/" in ident:
        raise OcciError(404, f"storage {ident!r} does not exist")
    return ident


def _id(ident: str, what: str) -> int:
    if not ident.isdigit():
        raise OcciError(404, f"{what} {ident!r} does not exist (ids are integers)")
    return int(ident)


# ---- reading --------------------------------------------------------------------------


def list_kind(call: Call, collection: str) -> list[m.Entity]:
    return [call.tagged(e) for e in _list_kind(call, collection)]


def _list_kind(call: Call, collection: str) -> list[m.Entity]:
    b, p = call.backend, call.principal
    if collection == "compute":
        links = b.link_list(p)
        return [
            convert.compute_entity(vm, call.images, [r for r in links if r.compute_id == vm.id])
            for vm in b.compute_list(p)
        ]
    if collection == "network":
        return [convert.network_entity(n) for n in b.network_list(p)]
    if collection == "storage":
        return [convert.storage_entity(s) for s in b.storage_list(p)]
    if collection in LINK_COLLECTIONS:
        return [convert.link_as_entity(r) for r in b.link_list(p) if r.kind == collection]
    raise OcciError(404, f"/{collection}/ is not a collection of this server")


def get_one(call: Call, collection: str, ident: str) -> m.Entity:
    return call.tagged(_get_one(call, collection, ident))


def _get_one(call: Call, collection: str, ident: str) -> m.Entity:
    b, p = call.backend, call.principal
    if collection == "compute":
        vm_id = _id(ident, "compute")
        vm = b.compute_get(p, vm_id)
        return convert.compute_entity(vm, call.images, b.link_list(p, vm_id))
    if collection == "network":
        return convert.network_entity(b.network_get(p, _id(ident, "network")))
    if collection == "storage":
        return convert.storage_entity(b.storage_get(p, _sid(ident)))
    if collection in LINK_COLLECTIONS:
        for rec in b.link_list(p):
            if rec.kind == collection and rec.id == ident:
                return convert.link_as_entity(rec)
        raise OcciError(404, f"link /link/{collection}/{ident} does not exist")
    raise OcciError(404, f"/{collection}/{ident} does not exist")


def list_mixin(call: Call, location: str) -> list[m.Entity]:
    mixin = call.registry.by_location(location)
    if mixin is None or mixin.cls != "mixin":
        raise OcciError(404, f"{location} is not a collection of this server")
    return [e for e in list_kind(call, "compute") if mixin.type_id in e.mixins]


def matches(entity: m.Entity, categories: Sequence[m.Category], attrs: Mapping[str, Any]) -> bool:
    ids = {entity.kind, *entity.mixins}
    if any(c.type_id not in ids for c in categories if c.cls != "action"):
        return False
    return all(entity.attributes.get(k) == v for k, v in attrs.items())


# ---- creating, acting, deleting -------------------------------------------------------


def _check_kind(entity: m.Entity, expected: m.Category) -> None:
    if entity.kind != expected.type_id:
        raise bad(f"the kind {entity.kind} cannot be created in {expected.location}")
    for attr in expected.attributes:
        if attr.name in entity.attributes and not attr.mutable:
            raise bad(f"attribute {attr.name} is immutable and cannot be set by the client")


def create(call: Call, collection: str, entity: m.Entity) -> str:
    """Create from a parsed entity; returns the new resource's location."""
    b, p = call.backend, call.principal
    if collection == "compute":
        _check_kind(entity, m.COMPUTE)
        request = convert.compute_request(entity, call.images, call.types)
        return f"/compute/{b.compute_create(p, request)}"
    if collection == "network":
        _check_kind(entity, m.NETWORK)
        return f"/network/{b.network_create(p, convert.network_request(entity))}"
    if collection == "storage":
        _check_kind(entity, m.STORAGE)
        size = convert.storage_size(entity)
        return f"/storage/{b.storage_create(p, entity.title, size)}"
    if collection in LINK_COLLECTIONS:
        kind, compute_id, target_id = convert.link_ends(entity)
        if kind != collection:
            raise bad(f"a {kind} link cannot be created in /link/{collection}/")
        attrs = {k: v for k, v in entity.attributes.items() if not k.startswith("occi.core.")}
        link_id = b.link_create(p, kind, compute_id, target_id, attrs)
        return f"/link/{collection}/{link_id}"
    raise OcciError(405, f"resources cannot be created in /{collection}/")


def _compute_action(call: Call, vm_id: Any, term: str, attributes: Mapping[str, Any]) -> None:
    if term == "save":  # the image name is the action's `name` attribute (OCCI 1.2), if given
        name = attributes.get("name")
        call.backend.compute_save(call.principal, vm_id, str(name) if name else None)
        return
    command = convert.compute_action(term, attributes)
    call.backend.compute_action(call.principal, command(vm_id))


_ACTIONS: Mapping[str, Callable[[Call, Any, str, Mapping[str, Any]], None]] = {
    "compute": _compute_action,
    "network": lambda c, i, t, a: c.backend.network_action(c.principal, i, up=t == "up"),
    "storage": lambda c, i, t, a: c.backend.storage_action(c.principal, i, online=t == "online"),
}


def act(
    call: Call,
    collection: str,
    ident: str,
    term: str,
    body_action: m.Category,
    attributes: Mapping[str, Any],
) -> None:
    kind = call.registry.by_location(f"/{collection}/")
    if kind is None or collection not in _ACTIONS:
        raise OcciError(404, f"/{collection}/{ident} has no actions")
    if body_action.type_id not in kind.actions:
        raise bad(f"{body_action.term} is not an action of {collection}")
    if body_action.term != term:
        raise bad(f"?action={term} does not match the action Category {body_action.term}")
    target = _sid(ident) if collection == "storage" else _id(ident, collection)
    _ACTIONS[collection](call, target, term, attributes)


#: what a partial update may change, per kind: OCCI attribute -> backend keyword
UPDATABLE: Mapping[str, Mapping[str, str]] = {
    "compute": {
        "occi.core.title": "name",
        "occi.compute.cores": "cores",
        "occi.compute.memory": "memory_mib",
    },
    "network": {"occi.core.title": "title", "occi.network.label": "label"},
    "storage": {"occi.core.title": "title", "occi.storage.size": "size_gib"},
}


def _update_args(collection: str, updates: Mapping[str, Any]) -> dict[str, Any]:
    allowed = UPDATABLE.get(collection, {})
    args: dict[str, Any] = {}
    for name, value in updates.items():
        if name not in allowed:
            raise bad(
                f"attribute {name} of {collection} cannot be changed; changeable: "
                + ", ".join(sorted(allowed))
            )
        keyword = allowed[name]
        if keyword in ("cores", "memory_mib", "size_gib"):
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise bad(f"attribute {name} must be a positive number, got {value!r}")
        if keyword == "cores":
            value = int(value)
        elif keyword == "memory_mib":
            value = int(value * 1024)  # OCCI speaks GiB
        elif keyword == "size_gib":
            value = float(value)
        else:
            value = str(value)
        args[keyword] = value
    return args


def update(call: Call, collection: str, ident: str, updates: Mapping[str, Any]) -> None:
    """Partial update (POST on an instance without ?action=)."""
    b, p = call.backend, call.principal
    args = _update_args(collection, updates)
    if collection == "compute":
        b.compute_update(p, _id(ident, "compute"), **args)
    elif collection == "network":
        b.network_update(p, _id(ident, "network"), **args)
    elif collection == "storage":
        b.storage_update(p, _sid(ident), **args)
    else:
        raise OcciError(405, f"/{collection}/{ident} cannot be updated")


def replace(call: Call, collection: str, ident: str, given: Mapping[str, Any]) -> None:
    """Full update (PUT on an instance): the entity as the client read it, some attributes
    changed.  What the server owns (immutable attributes: id, state...) is ignored, since it
    may have moved since the client read it; any other attribute that differs from the current
    rendering is changed as a partial update would (one that cannot change is refused there,
    naming the changeable ones)."""
    current = get_one(call, collection, ident).attributes
    owned = {a.name for c in call.registry.categories.values() for a in c.attributes
             if not a.mutable} - set(UPDATABLE.get(collection, {}))
    changed = {k: v for k, v in given.items() if k not in owned and current.get(k) != v}
    if changed:
        update(call, collection, ident, changed)


def delete(call: Call, collection: str, ident: str) -> None:
    b, p = call.backend, call.principal
    if collection == "compute":
        b.compute_delete(p, _id(ident, "compute"))
    elif collection == "network":
        b.network_delete(p, _id(ident, "network"))
    elif collection == "storage":
        b.storage_delete(p, _sid(ident))
    elif collection in LINK_COLLECTIONS:
        get_one(call, collection, ident)
        b.link_delete(p, ident)
    else:
        raise OcciError(404, f"/{collection}/{ident} does not exist")


def query(call: Call, wanted: Sequence[m.Category]) -> list[m.Category]:
    everything = list(call.registry.categories.values())
    if not wanted:
        return everything
    ids = {c.type_id for c in wanted}
    return [c for c in everything if c.type_id in ids]
