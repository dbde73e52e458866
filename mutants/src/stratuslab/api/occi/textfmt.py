"""OCCI text renderings: `text/plain` (header lines in the body), `text/occi` (HTTP headers),
`text/uri-list` (locations), parsed into and rendered from the model's Entity/Category shapes.

Grammar (OCCI 1.2 Text Rendering)::

    Category: term; scheme="..#"; class="kind|mixin|action"[; title=".."][; rel=".."]
              [; location=".."][; attributes="a b{required} c{immutable}"][; actions=".."]
    Link: <URI>; rel="type"[; self="URI"][; category="mixin ..."][; attr=value]*
    X-OCCI-Attribute: name=value      (strings quoted; numbers and booleans bare)
    X-OCCI-Location: URI

Every parse error is an `OcciError` with status 400 and a message naming what was wrong.
Only the standard library; must not import drivers, persistence or settings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from stratuslab.api.occi.model import Category, Entity, Link, Registry

Header = tuple[str, str]
_TERM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_NAMES = {
    "category": "Category",
    "link": "Link",
    "x-occi-attribute": "X-OCCI-Attribute",
    "x-occi-location": "X-OCCI-Location",
}


class OcciError(Exception):
    """A request the OCCI front end refuses; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def bad(message: str) -> OcciError:
    return OcciError(400, message)


def split_outside_quotes(text: str, sep: str) -> list[str]:
    parts, buf, quoted, escaped = [], [], False, False
    for ch in text:
        if escaped:
            buf.append(ch)
            escaped = False
        elif ch == "\\" and quoted:
            buf.append(ch)
            escaped = True
        elif ch == '"':
            quoted = not quoted
            buf.append(ch)
        elif ch == sep and not quoted:
            parts.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
    if quoted:
        raise bad(f"unterminated quoted string in {text!r}")
    parts.append("".join(buf).strip())
    return [p for p in parts if p]


def unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---- collecting header lines ----------------------------------------------------------


def lines_from_body(body: str) -> list[Header]:
    """`Name: value` lines of a text/plain body (indented lines continue the previous one)."""
    out: list[Header] = []
    for raw in body.splitlines():
        if not raw.strip():
            continue
        if raw[0] in " \t" and out:
            name, value = out[-1]
            out[-1] = (name, value + " " + raw.strip())
            continue
        name, sep, value = raw.partition(":")
        canonical = _NAMES.get(name.strip().lower())
        if not sep or canonical is None:
            raise bad(f"unexpected line in text/plain body: {raw.strip()[:80]!r}")
        out.append((canonical, value.strip()))
    return out


def lines_from_headers(headers: Iterable[Header]) -> list[Header]:
    """OCCI headers of a text/occi request (comma-separated values are split)."""
    out: list[Header] = []
    for name, value in headers:
        canonical = _NAMES.get(name.lower())
        if canonical is not None:
            out.extend((canonical, part) for part in split_outside_quotes(value, ","))
    return out


# ---- parsing ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CategoryRef:
    term: str
    scheme: str
    cls: str
    params: dict[str, str]

    @property
    def type_id(self) -> str:
        return self.scheme + self.term


def parse_category(value: str) -> CategoryRef:
    parts = split_outside_quotes(value, ";")
    if not parts or "=" in parts[0]:
        raise bad(f"Category {value!r} does not start with a term")
    term = parts[0]
    if not _TERM.match(term):
        raise bad(f"Category term {term!r} is not a valid term")
    params = {}
    for part in parts[1:]:
        key, sep, raw = part.partition("=")
        if not sep:
            raise bad(f"Category {term}: parameter {part!r} is not key=value")
        params[key.strip().lower()] = unquote(raw)
    scheme, cls = params.get("scheme"), params.get("class")
    if not scheme:
        raise bad(f"Category {term} has no scheme")
    if cls not in ("kind", "mixin", "action"):
        raise bad(f'Category {term}: class must be "kind", "mixin" or "action", got {cls!r}')
    return CategoryRef(term, scheme, cls, params)


def parse_value(raw: str) -> Any:
    raw = raw.strip()
    if raw.startswith('"'):
        return unquote(raw)
    if raw in ("true", "false"):
        return raw == "true"
    try:
        return int(raw) if re.fullmatch(r"-?\d+", raw) else float(raw)
    except ValueError:
        raise bad(
            f"attribute value {raw!r} is neither a quoted string, a number nor a boolean"
        ) from None


def parse_attribute(value: str) -> tuple[str, Any]:
    name, sep, raw = value.partition("=")
    if not sep or not re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*", name.strip()):
        raise bad(f"X-OCCI-Attribute {value!r} is not name=value")
    return name.strip(), parse_value(raw)


def parse_link(value: str) -> Link:
    parts = split_outside_quotes(value, ";")
    if not parts or not (parts[0].startswith("<") and parts[0].endswith(">")):
        raise bad(f"Link {value!r} does not start with <URI>")
    link = Link(kind="", target=parts[0][1:-1])
    for part in parts[1:]:
        key, sep, raw = part.partition("=")
        key = key.strip()
        if not sep:
            raise bad(f"Link parameter {part!r} is not key=value")
        if key == "rel":
            link.rel = unquote(raw)
        elif key == "self":
            link.location = unquote(raw)
        elif key == "category":
            kinds = unquote(raw).split()
            link.kind, link.mixins = (kinds[0] if kinds else ""), kinds[1:]
        else:
            link.attributes[key] = parse_value(raw)
    return link


def _resolve(ref: CategoryRef, registry: Registry) -> Category:
    if ref.scheme not in registry.schemes():
        raise bad(f"Category {ref.term}: unknown scheme {ref.scheme!r}")
    category = registry.get(ref.type_id)
    if category is None:
        raise bad(f"Category {ref.term} is not defined in scheme {ref.scheme}")
    if category.cls != ref.cls:
        raise bad(f"Category {ref.term} is a {category.cls}, not a {ref.cls}")
    return category


def parse_entity(lines: Sequence[Header], registry: Registry) -> Entity:
    """A resource or link creation request; exactly one kind is required."""
    kinds: list[Category] = []
    mixins: list[Category] = []
    entity = Entity(kind="")
    for name, value in lines:
        if name == "Category":
            category = _resolve(parse_category(value), registry)
            (kinds if category.cls == "kind" else mixins).append(category)
        elif name == "X-OCCI-Attribute":
            key, parsed = parse_attribute(value)
            entity.attributes[key] = parsed
        elif name == "Link":
            entity.links.append(parse_link(value))
    actions = [c for c in mixins if c.cls == "action"]
    if actions:
        raise bad(f"an action Category ({actions[0].term}) is not allowed here")
    if len(kinds) != 1:
        raise bad("the request names no kind" if not kinds else "the request names several kinds")
    entity.kind = kinds[0].type_id
    entity.mixins = [m.type_id for m in mixins]
    return entity


def parse_action(lines: Sequence[Header], registry: Registry) -> tuple[Category, dict[str, Any]]:
    action: Category | None = None
    attributes: dict[str, Any] = {}
    for name, value in lines:
        if name == "Category":
            category = _resolve(parse_category(value), registry)
            if category.cls != "action":
                raise bad(f"Category {category.term} is a {category.cls}, expected an action")
            action = category
        elif name == "X-OCCI-Attribute":
            key, parsed = parse_attribute(value)
            attributes[key] = parsed
    if action is None:
        raise bad("the action request carries no action Category")
    return action, attributes


def parse_filter(lines: Sequence[Header], registry: Registry) -> list[Category]:
    return [_resolve(parse_category(v), registry) for n, v in lines if n == "Category"]


# ---- rendering ----------------------------------------------------------------------------


def _attribute_decl(category: Category) -> str:
    words = []
    for attr in category.attributes:
        flags = [
            f for f, on in (("immutable", not attr.mutable), ("required", attr.required)) if on
        ]
        words.append(attr.name + ("{" + " ".join(flags) + "}" if flags else ""))
    return " ".join(words)


def render_category(category: Category, *, full: bool = True) -> str:
    out = [category.term, f"scheme={quote(category.scheme)}", f"class={quote(category.cls)}"]
    if not full:
        return "; ".join(out)
    if category.title:
        out.append(f"title={quote(category.title)}")
    related = [category.parent] if category.parent else list(category.applies)
    if related:
        out.append(f"rel={quote(' '.join(related))}")
    if category.location:
        out.append(f"location={quote(category.location)}")
    if category.attributes:
        out.append(f"attributes={quote(_attribute_decl(category))}")
    if category.actions:
        out.append(f"actions={quote(' '.join(category.actions))}")
    return "; ".join(out)


def render_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return quote(str(value))


def render_entity(entity: Entity, registry: Registry) -> list[Header]:
    lines: list[Header] = []
    for type_id in [entity.kind, *entity.mixins]:
        category = registry.get(type_id)
        if category is not None:
            lines.append(("Category", render_category(category, full=False)))
    for link in entity.links:
        parts = [f"<{link.target}>", f"rel={quote(link.target_kind or link.rel or '')}"]
        if link.location:
            parts.append(f"self={quote(link.location)}")
        parts.append(f"category={quote(' '.join([link.kind, *link.mixins]))}")
        parts.extend(f"{k}={render_value(v)}" for k, v in link.attributes.items())
        lines.append(("Link", "; ".join(parts)))
    for action in entity.actions:
        term = action.rsplit("#", 1)[-1]
        lines.append(("Link", f"<{entity.location}?action={term}>; rel={quote(action)}"))
    lines.extend(
        ("X-OCCI-Attribute", f"{k}={render_value(v)}") for k, v in entity.attributes.items()
    )
    return lines


def render_categories(categories: Iterable[Category]) -> list[Header]:
    return [("Category", render_category(c)) for c in categories]


def render_locations(locations: Iterable[str]) -> list[Header]:
    return [("X-OCCI-Location", loc) for loc in locations]


def to_body(lines: Iterable[Header]) -> str:
    return "".join(f"{name}: {value}\n" for name, value in lines)
