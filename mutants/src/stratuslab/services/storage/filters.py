"""Listing filters for volumes, as pdisk's `stratus-describe-volumes -f key:pattern`.

Each term is `key:pattern`; terms are AND-combined.  A pattern is a glob, never a regular
expression: user text must not reach a backtracking regex engine (one catastrophic pattern
would freeze a server thread).  `*` matches any run of characters, `?` one character, `\\`
escapes the next one; a pattern matches anywhere in the field unless it starts with `^` (anchored
at the start) or ends with `$` (anchored at the end) — so pdisk's usual `tag:^db`, `owner:alice`
and `state:ready$` mean what they meant.  Matching runs in O(len(pattern) × len(text)) at worst,
and patterns are at most `MAX_PATTERN` characters.  Imports `core` only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from stratuslab.core.errors import InvalidInput
from stratuslab.core.volumes import GlobPattern, Volume, VolumeFilter

MAX_PATTERN = 200


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
            f"filter {text[:60]!r} is not key:pattern",
            hint=f"write e.g. -f tag:^data -f owner:alice (keys: {', '.join(sorted(FIELDS))})",
        )
    if key not in FIELDS:
        raise InvalidInput(
            f"filter {text!r} names unknown field {key!r}",
            hint=f"known fields: {', '.join(sorted(FIELDS))}",
        )
    return VolumeFilter(key, compile_glob(pattern, what=f"filter {key}"))


def compile_glob(pattern: str, *, what: str) -> GlobPattern:
    """`^`/`$` anchors, `*`, `?` and `\\` escapes into a token list; InvalidInput when too long."""
    if len(pattern) > MAX_PATTERN:
        raise InvalidInput(
            f"{what}: the pattern is {len(pattern)} characters long; at most {MAX_PATTERN}",
            hint="shorten the pattern; * matches any run of characters",
        )
    start = pattern.startswith("^")
    body = pattern[1:] if start else pattern
    end = body.endswith("$") and not body.endswith("\\$")
    body = body[:-1] if end else body
    tokens: list[str | None] = []  # a character, or None for `*`; "?" is kept as ONE below
    ones: list[bool] = []
    it = iter(body)
    for ch in it:
        if ch == "\\":
            nxt = next(it, "\\")
            tokens.append(nxt)
            ones.append(False)
        elif ch == "*":
            if not tokens or tokens[-1] is not None or ones[-1]:
                tokens.append(None)
                ones.append(False)
        else:
            tokens.append(ch)
            ones.append(ch == "?")
    return GlobPattern(pattern, tuple(tokens), tuple(ones), start, end)


def glob_search(glob: GlobPattern, text: str) -> bool:
    """Whether `glob` matches `text` (anywhere unless anchored): one pass of a set of positions
    in the pattern over the text, O(len(pattern) × len(text)), no backtracking."""
    tokens, ones, n = glob.tokens, glob.ones, len(glob.tokens)

    def close(states: set[int]) -> set[int]:
        out, todo = set(states), list(states)
        while todo:  # a `*` may match nothing: its successor is reachable too
            i = todo.pop()
            if i < n and tokens[i] is None and i + 1 not in out:
                out.add(i + 1)
                todo.append(i + 1)
        return out

    states = close({0})
    if n in states and not glob.end:
        return True
    for ch in text:
        nxt: set[int] = set()
        for i in states:
            if i == n:
                continue
            tok = tokens[i]
            if tok is None:
                nxt.add(i)  # `*` eats the character and stays
            elif ones[i] or tok == ch:
                nxt.add(i + 1)
        if not glob.start:
            nxt.add(0)  # unanchored: a match may begin at the next character
        states = close(nxt)
        if n in states and not glob.end:
            return True
    return n in states


def parse_filters(texts: Sequence[str]) -> tuple[VolumeFilter, ...]:
    return tuple(parse_filter(t) for t in texts)


def matches(volume: Volume, filters: Iterable[VolumeFilter]) -> bool:
    return all(glob_search(f.pattern, FIELDS[f.key](volume)) for f in filters)


def select(volumes: Iterable[Volume], filters: Sequence[VolumeFilter]) -> list[Volume]:
    return [v for v in volumes if matches(v, filters)]
