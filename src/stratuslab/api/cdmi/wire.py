"""CDMI on the wire: media types, version negotiation, paths, field selections and ranges.

Pure functions over strings; imports only the standard library and `core`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from stratuslab.core.errors import InvalidInput
from stratuslab.core.objects import MAX_DEPTH, check_name

CONTAINER = "application/cdmi-container"
OBJECT = "application/cdmi-object"
CAPABILITY = "application/cdmi-capability"
CDMI_TYPES = (CONTAINER, OBJECT, CAPABILITY, "application/cdmi-capabilities",
              "application/cdmi-domain", "application/cdmi-queue")
VERSION_HEADER = "X-CDMI-Specification-Version"
ANSWER_VERSION = "1.1"
ACCEPTED_VERSIONS = ("1.1.1", "1.1", "1.0.2", "1.0.1h", "1.0.1")
_RANGE = re.compile(r"^(\d+)-(\d+)$")


def negotiate(header: str | None) -> str | None:
    """None when the request is not CDMI (no header); the version we answer otherwise."""
    if header is None:
        return None
    asked = [v.strip() for v in header.split(",") if v.strip()]
    if not any(v in ACCEPTED_VERSIONS for v in asked):
        raise InvalidInput(f"CDMI specification version {header[:60]!r} is not supported",
                           hint=f"send {VERSION_HEADER}: one of {', '.join(ACCEPTED_VERSIONS)}")
    return ANSWER_VERSION


def media(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def is_cdmi(content_type: str | None, accept: str | None, version: str | None) -> bool:
    if version is not None:
        return True
    kinds = {media(content_type)} | {media(a) for a in (accept or "").split(",")}
    return bool(kinds & set(CDMI_TYPES))


def path_parts(raw_path: str, prefix: str) -> tuple[list[str], bool]:
    """The raw (still percent-encoded) request path -> checked components, and whether it names
    a container (ends with '/').  Decoding happens per component, so '%2f' stays inside one
    name (and is then refused) instead of becoming a separator."""
    if not raw_path.startswith(prefix):
        raise InvalidInput(f"path {raw_path[:80]!r} is outside {prefix}")
    rest = raw_path[len(prefix):]
    container = rest.endswith("/") or rest == ""
    raw = rest.strip("/").split("/") if rest.strip("/") else []
    if len(raw) > MAX_DEPTH:
        raise InvalidInput(f"path {raw_path[:80]!r} is {len(raw)} levels deep; at most {MAX_DEPTH}")
    try:
        comps = [unquote(c, errors="strict") for c in raw]
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"path {raw_path[:80]!r} is not UTF-8 once decoded") from exc
    return [check_name(c) for c in comps], container


@dataclass(frozen=True)
class Field:
    name: str
    arg: str | None = None  # "0-9" for ranges, a prefix for metadata


def fields(query: str) -> list[Field]:
    """'children:0-9;metadata;value:0-99' -> the selected fields (CDMI field selection)."""
    out = []
    for item in query.split(";"):
        if not item:
            continue
        name, _, arg = item.partition(":")
        if not re.fullmatch(r"[A-Za-z_]{1,40}", name):
            raise InvalidInput(f"field selection {item[:40]!r} is malformed",
                               hint="write e.g. ?children;metadata or ?children:0-9")
        out.append(Field(name, arg or None))
    return out


def parse_range(text: str, what: str) -> tuple[int, int]:
    match = _RANGE.match(text)
    if not match or int(match.group(1)) > int(match.group(2)):
        raise InvalidInput(f"{what} range {text[:40]!r} is malformed", hint="write FIRST-LAST, e.g. 0-9")
    return int(match.group(1)), int(match.group(2))


def http_range(header: str, size: int) -> tuple[int, int] | None:
    """A single 'bytes=a-b' / 'bytes=a-' / 'bytes=-n' range -> (start, end exclusive); None when
    it cannot be satisfied."""
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if not match or match.groups() == ("", ""):
        raise InvalidInput(f"Range {header[:60]!r} is not one byte range",
                           hint="send e.g. Range: bytes=0-1023")
    first, last = match.groups()
    if first == "":
        start, end = max(size - int(last), 0), size
    else:
        start = int(first)
        end = min(int(last) + 1, size) if last else size
    return (start, end) if start < end else None
