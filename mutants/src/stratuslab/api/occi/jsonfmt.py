"""OCCI JSON rendering (`application/occi+json`, OCCI 1.2): resources, links, collections,
action invocations and the query interface document.

Errors are `OcciError(400, ...)` naming the member at fault (e.g. a body with no "kind").
Only the standard library; must not import drivers, persistence or settings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from stratuslab.api.occi import model as m
from stratuslab.api.occi.model import Attribute, Category, Entity, Link, Registry
from stratuslab.api.occi.textfmt import bad

#: link kind -> the kind of its target (the source of both is a compute)
_LINK_TARGETS = {
    m.NETWORKINTERFACE.type_id: m.NETWORK.type_id,
    m.STORAGELINK.type_id: m.STORAGE.type_id,
}


def loads(body: bytes | str) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise bad(f"the body is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise bad("the JSON body must be an object")
    return data


def _category(type_id: object, registry: Registry, expected: tuple[str, ...], where: str) -> str:
    if not isinstance(type_id, str) or "#" not in type_id:
        raise bad(f'{where} must be a category identifier "scheme#term", got {type_id!r}')
    scheme = type_id.rsplit("#", 1)[0] + "#"
    if scheme not in registry.schemes():
        raise bad(f"{where}: unknown scheme {scheme!r}")
    category = registry.get(type_id)
    if category is None or category.cls not in expected:
        raise bad(f"{where}: {type_id} is not a known {' or '.join(expected)}")
    return type_id


def _attributes(data: dict[str, Any], where: str) -> dict[str, Any]:
    attrs = data.get("attributes", {})
    if not isinstance(attrs, dict):
        raise bad(f'{where} "attributes" must be an object')
    return dict(attrs)


def _link(data: object, registry: Registry) -> Link:
    if not isinstance(data, dict):
        raise bad('each entry of "links" must be an object')
    if "kind" not in data:
        raise bad('a link has no "kind"')
    target = data.get("target", {})
    location = target.get("location") if isinstance(target, dict) else target
    if not isinstance(location, str):
        raise bad('a link has no "target" location')
    return Link(
        kind=_category(data["kind"], registry, ("kind",), 'link "kind"'),
        target=location,
        target_kind=target.get("kind") if isinstance(target, dict) else None,
        mixins=[_category(m, registry, ("mixin",), "link mixin") for m in data.get("mixins", [])],
        attributes=_attributes(data, "link"),
        id=data.get("id"),
    )


def parse_entity(data: dict[str, Any], registry: Registry) -> Entity:
    if "kind" not in data:
        raise bad('the JSON body has no "kind"')
    mixins = data.get("mixins", [])
    if not isinstance(mixins, list):
        raise bad('"mixins" must be an array')
    entity = Entity(
        kind=_category(data["kind"], registry, ("kind",), '"kind"'),
        mixins=[_category(m, registry, ("mixin",), "mixin") for m in mixins],
        attributes=_attributes(data, "the resource"),
        id=data.get("id"),
        links=[_link(link, registry) for link in data.get("links", [])],
    )
    for key in ("title", "summary"):
        if key in data:
            entity.attributes[f"occi.core.{key}"] = data[key]
    source = data.get("source")
    if isinstance(source, dict) and "target" in data:  # a link posted on its own
        entity.attributes["occi.core.source"] = source.get("location")
        target = data["target"]
        entity.attributes["occi.core.target"] = (
            target.get("location") if isinstance(target, dict) else target
        )
    return entity


def parse_action(data: dict[str, Any], registry: Registry) -> tuple[Category, dict[str, Any]]:
    if "action" not in data:
        raise bad('the JSON action invocation has no "action"')
    type_id = _category(data["action"], registry, ("action",), '"action"')
    action = registry.get(type_id)
    assert action is not None
    return action, _attributes(data, "the action")


def parse_mixin_filter(data: dict[str, Any], registry: Registry) -> list[Category]:
    found = []
    for item in data.get("kinds", []) + data.get("mixins", []):
        type_id = item.get("scheme", "") + item.get("term", "") if isinstance(item, dict) else item
        category = registry.get(_category(type_id, registry, ("kind", "mixin"), "filter"))
        if category is not None:
            found.append(category)
    return found


# ---- rendering ----------------------------------------------------------------------------


def link_json(link: Link, source_kind: str | None) -> dict[str, Any]:
    return {
        "kind": link.kind,
        "mixins": list(link.mixins),
        "attributes": dict(link.attributes),
        "actions": [],
        "id": link.id,
        "location": link.location,
        "source": {"location": link.source, "kind": source_kind},
        "target": {"location": link.target, "kind": link.target_kind},
    }


def entity_json(entity: Entity) -> dict[str, Any]:
    if entity.kind in _LINK_TARGETS:  # a link shown on its own (GET /link/...)
        return link_json(_as_link(entity), m.COMPUTE.type_id)
    out: dict[str, Any] = {
        "kind": entity.kind,
        "mixins": list(entity.mixins),
        "attributes": dict(entity.attributes),
        "actions": list(entity.actions),
        "id": entity.id,
        "location": entity.location,
        "links": [link_json(link, entity.kind) for link in entity.links],
    }
    if entity.title is not None:
        out["title"] = entity.title
    return out


def collection_json(entities: Iterable[Entity], *, links: bool = False) -> dict[str, Any]:
    if links:
        return {"links": [link_json(_as_link(e), m.COMPUTE.type_id) for e in entities]}
    return {"resources": [entity_json(e) for e in entities]}


def _as_link(entity: Entity) -> Link:
    return Link(
        kind=entity.kind,
        id=entity.id,
        location=entity.location,
        source=str(entity.attributes.get("occi.core.source", "")),
        target=str(entity.attributes.get("occi.core.target", "")),
        target_kind=_LINK_TARGETS.get(entity.kind),
        mixins=list(entity.mixins),
        attributes=dict(entity.attributes),
    )


def _attribute_json(attr: Attribute) -> dict[str, Any]:
    out: dict[str, Any] = {"mutable": attr.mutable, "required": attr.required, "type": attr.type}
    if attr.default is not None:
        out["default"] = attr.default
    if attr.pattern:
        out["pattern"] = attr.pattern
    if attr.description:
        out["description"] = attr.description
    return out


def category_json(category: Category) -> dict[str, Any]:
    out: dict[str, Any] = {"term": category.term, "scheme": category.scheme}
    if category.title:
        out["title"] = category.title
    if category.attributes:
        out["attributes"] = {a.name: _attribute_json(a) for a in category.attributes}
    if category.cls != "action":
        out["actions"] = list(category.actions)
        if category.location:
            out["location"] = category.location
    if category.cls == "kind" and category.parent:
        out["parent"] = category.parent
    if category.cls == "mixin":
        out["depends"] = [category.parent] if category.parent else []
        out["applies"] = list(category.applies)
    return out


def query_json(categories: Iterable[Category]) -> dict[str, Any]:
    out: dict[str, list[Any]] = {"kinds": [], "mixins": [], "actions": []}
    for category in categories:
        out[category.cls + "s"].append(category_json(category))
    return out
