"""The configuration reference (docs/configuration.md), generated from the section declarations,
and the line of a key in a TOML file (for `stratus-server config check`)."""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Iterator
from typing import Any

from stratuslab.settings.model import Settings
from stratuslab.settings.sections import DURATION

HEADER = """\
# Configuration reference

<!-- Generated from src/stratuslab/settings by `stratus-server config reference`;
     do not edit: tests/unit/test_config_reference.py fails when it is out of date. -->

`stratus-server --config FILE` reads a TOML file (an installed site uses
`/etc/stratuslab/stratuslab.toml`). Every key can also be given as an environment variable
`STRATUSLAB_<SECTION>_<KEY>` (upper case, dots of nested sections as underscores), which wins
over the file; list-valued keys take a comma-separated list there
(`STRATUSLAB_AUTH_CHAIN=password,ldap`). Command-line flags (`--data-dir`, `--listen`,
`--hypervisor`) win over both. Unknown keys and bad values are refused at start-up, naming the
key; `stratus-server config check FILE` checks a file without starting anything and also names
the line.

Durations are written `30s`, `15m`, `48h`, `2d` or as a number of seconds. `HOST:PORT` takes
IPv6 hosts in brackets (`[::1]:8080`).
"""


def _type_name(typ: Any) -> str:
    origin = typing.get_origin(typ)
    if typ is bool:
        return "boolean"
    if typ is int:
        return "integer"
    if typ is float:
        return "number"
    if typ is str:
        return "string"
    if origin in (list, tuple):
        return "list of strings"
    return "table"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_toml(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    return str(value)


def sections(cls: type[Any] = Settings, prefix: str = "") -> Iterator[tuple[str, type[Any], str]]:
    """(dotted section name, its dataclass, its description) for every section, depth first."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        typ = hints[f.name]
        if dataclasses.is_dataclass(typ):
            name = f"{prefix}{f.name}"
            yield name, typ, f.metadata.get("doc", "")  # type: ignore[misc]
            yield from sections(typ, f"{name}.")  # type: ignore[arg-type]


def generate() -> str:
    """The whole reference as Markdown (deterministic: the default data_dir is shown symbolically)."""
    out = [HEADER]
    for name, cls, doc in sections():
        out.append(f"\n## [{name}]\n")
        if doc:
            out.append(f"{doc}.\n")
        elif cls.__doc__ and not cls.__doc__.startswith(cls.__name__ + "("):
            out.append(f"{cls.__doc__.strip()}\n")
        out.append("\n| key | type | default | unit / choices | meaning |\n|---|---|---|---|---|\n")
        hints = typing.get_type_hints(cls)
        instance = cls()
        for f in dataclasses.fields(cls):
            typ = hints[f.name]
            if dataclasses.is_dataclass(typ):
                continue
            meta = f.metadata
            default = getattr(instance, f.name)
            shown = ("`$XDG_DATA_HOME/stratuslab`" if (name, f.name) == ("server", "data_dir")
                     else f"`{_toml(default)}`")
            unit = meta.get("unit", "")
            if meta.get("choices"):
                unit = " \\| ".join(f"`{c}`" if c else '`""`' for c in meta["choices"])
            elif unit == DURATION:
                unit = "duration"
            env = "STRATUSLAB_" + f"{name}.{f.name}".upper().replace(".", "_")
            text = meta.get("doc", "")
            if meta.get("minimum") is not None:
                text += f" (at least {meta['minimum']:g})"
            if meta.get("example"):
                text += f". Example: `{f.name} = {_example(meta['example'], typ)}`"
            text += f". Env: `{env}`"
            text = text.replace("|", "\\|")
            out.append(f"| `{f.name}` | {_type_name(typ)} | {shown} | {unit} | {text} |\n")
    return "".join(out)


def _example(example: str, typ: Any) -> str:
    return example if typ is not str else _toml(example)


_HEADER_LINE = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_\-\"'. ]+?)\s*=")


def line_of(text: str, key: str) -> int | None:
    """The 1-based line where dotted `key` (or its nearest enclosing key) is written, or None."""
    found: dict[str, int] = {}
    section = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER_LINE.match(line)
        if header:
            section = _unquote(header.group(1))
            found.setdefault(section, number)
            continue
        m = _KEY_LINE.match(line)
        if m:
            full = f"{section}.{_unquote(m.group(1))}" if section else _unquote(m.group(1))
            found.setdefault(full, number)
    parts = key.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in found:
            return found[".".join(parts[:end])]
    return None


def _unquote(dotted: str) -> str:
    return ".".join(p.strip().strip("\"'") for p in dotted.split("."))
