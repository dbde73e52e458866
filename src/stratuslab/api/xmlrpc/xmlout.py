"""A tiny writer for OpenNebula-style XML: elements as strings, CDATA template leaves.

OpenNebula answers with compact XML (no declaration, no indentation: pyone only parses a result
whose first character is '<').  Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from xml.sax.saxutils import escape

from stratuslab.api.xmlrpc.template import Template, Value


def leaf(tag: str, value: object) -> str:
    if isinstance(value, bool):
        value = int(value)
    text = "" if value is None else escape(str(value))
    return f"<{tag}>{text}</{tag}>"


def cdata(tag: str, value: object) -> str:
    text = "" if value is None else str(value)
    # "]]>" cannot appear inside one CDATA section: split it across two
    text = text.replace("]]>", "]]]]><![CDATA[>")
    return f"<{tag}><![CDATA[{text}]]></{tag}>"


def node(tag: str, *parts: str | Iterable[str]) -> str:
    inner = "".join(p if isinstance(p, str) else "".join(p) for p in parts)
    return f"<{tag}>{inner}</{tag}>" if inner else f"<{tag}/>"


def leaves(pairs: Iterable[tuple[str, object]]) -> str:
    return "".join(leaf(k, v) for k, v in pairs)


def template(tag: str, items: Template | Iterable[tuple[str, Value]] | Mapping[str, Value]) -> str:
    """A <TEMPLATE>-like element whose leaves are CDATA and whose vectors nest one level."""
    pairs = items.items() if isinstance(items, Mapping) else items
    out = []
    for name, value in pairs:
        if isinstance(value, Mapping):
            out.append(node(name, *(cdata(k, v) for k, v in value.items())))
        else:
            out.append(cdata(name, value))
    return node(tag, out)


def epoch(when: datetime | None) -> int:
    return int(when.timestamp()) if when is not None else 0


def permissions(owner: str = "110", group: str = "000", other: str = "000") -> str:
    """The PERMISSIONS block from three 'UMA' bit strings (use, manage, admin)."""
    names = ("U", "M", "A")
    parts: list[str] = []
    for who, bits in (("OWNER", owner), ("GROUP", group), ("OTHER", other)):
        parts.extend(leaf(f"{who}_{n}", b) for n, b in zip(names, bits, strict=True))
    return node("PERMISSIONS", parts)


def rights(letters: str) -> str:
    """The PERMISSIONS block from nine letters ("um-u-----": owner, group, other; a letter
    grants, `-` refuses)."""
    if len(letters) != 9:
        raise ValueError(f"permissions {letters!r} are not nine letters")
    bits = "".join("0" if c == "-" else "1" for c in letters)
    return permissions(bits[0:3], bits[3:6], bits[6:9])


def lock(level: int) -> str:
    """7.x LOCK of a locked object (its level as LOCKED); nothing when unlocked."""
    return node("LOCK", leaf("LOCKED", level)) if level else ""
