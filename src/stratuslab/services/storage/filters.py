"""Listing filters for volumes, as pdisk's `stratus-describe-volumes -f key:regex`.

Each term is `key:regex`; terms are AND-combined; a regex is matched with `re.search` against
the field's text (so `tag:^db` and `owner:alice` work as in StratusLab).  Imports `core` only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from stratuslab.core.errors import InvalidInput
from stratuslab.core.volumes import Volume, VolumeFilter


def _attached(v: Volume) -> str:
    return ",".join(str(vm) for vm in v.attached_to)


#: key -> how to read that field as text.  `id`/`uuid` and `size`/`size_gb` are synonyms.
FIELDS: Mapping[str, Callable[[Volume], str]] = {
    "uuid": lambda v: v.uuid,
    "id": lambda v: v.uuid,
    "owner": lambda v: v.owner,
    "group": lambda v: v.group,
    "tag": lambda v: v.tag,
    "size": lambda v: str(v.size_gb),
    "size_gb": lambda v: str(v.size_gb),
    "visibility": lambda v: v.visibility,
    "state": lambda v: v.state,
    "kind": lambda v: v.kind,
    "pool": lambda v: v.pool,
    "parent": lambda v: v.parent or "",
    "readonly": lambda v: "true" if v.readonly else "false",
    "attached_to": _attached,
    "vm": _attached,
}


def parse_filter(text: str) -> VolumeFilter:
    key, sep, pattern = text.partition(":")
    key = key.strip().lower()
    if not sep or not key:
        raise InvalidInput(
            f"filter {text!r} is not key:regex",
            hint=f"write e.g. -f tag:^data -f owner:alice (keys: {', '.join(sorted(FIELDS))})",
        )
    if key not in FIELDS:
        raise InvalidInput(
            f"filter {text!r} names unknown field {key!r}",
            hint=f"known fields: {', '.join(sorted(FIELDS))}",
        )
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise InvalidInput(
            f"filter {text!r}: {pattern!r} is not a regular expression ({exc})",
            hint="escape special characters with a backslash",
        ) from None
    return VolumeFilter(key, compiled)


def parse_filters(texts: Sequence[str]) -> tuple[VolumeFilter, ...]:
    return tuple(parse_filter(t) for t in texts)


def matches(volume: Volume, filters: Iterable[VolumeFilter]) -> bool:
    return all(f.pattern.search(FIELDS[f.key](volume)) for f in filters)


def select(volumes: Iterable[Volume], filters: Sequence[VolumeFilter]) -> list[Volume]:
    return [v for v in volumes if matches(v, filters)]
