"""Loading: a TOML file, then STRATUSLAB_* environment variables, then command-line overrides,
coerced to the declared types and checked against each field's choices, bounds and unit.

Sections are frozen dataclasses (`sections`, `sections_access`); `[section] key = value` in TOML,
and the environment variable `STRATUSLAB_<SECTION>_<KEY>` (dots in nested section names become
underscores) overrides it.  Every refusal is a `SettingsError` naming the key.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stratuslab.settings.model import Settings, SettingsError, parse_duration, parse_listen
from stratuslab.settings.sections import (
    DURATION,
    HOSTPORT,
)


def _coerce(value: Any, typ: Any, key: str) -> Any:
    origin = typing.get_origin(typ)
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise SettingsError(f"setting {key}: {value!r} is not a boolean", hint="use true or false")
    if typ is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise SettingsError(f"setting {key}: {value!r} is not a whole number")
    if typ is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        try:
            return float(value) if isinstance(value, str) else _not_a_number(value, key)
        except ValueError:
            raise SettingsError(f"setting {key}: {value!r} is not a number") from None
    if typ is str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise SettingsError(f"setting {key}: expected a string, got {type(value).__name__}",
                                hint="quote it in the file")
        return str(value)
    if origin in (list, tuple) or typ in (list, tuple):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise SettingsError(f"setting {key}: expected a list", hint='write e.g. ["a", "b"]')
        return tuple(value) if origin is tuple else list(value)
    if origin in (Mapping, dict) or typ is dict:
        if not isinstance(value, Mapping):
            raise SettingsError(f"setting {key}: expected a table", hint="write e.g. { a = 1 }")
        return dict(value)
    if origin in (typing.Union, types.UnionType):
        return value
    return value


def _not_a_number(value: Any, key: str) -> float:
    raise SettingsError(f"setting {key}: {value!r} is not a number")


def _check(value: Any, meta: Mapping[str, Any], key: str) -> None:
    """A field's declared choices, lower bound and unit (see `sections.setting`)."""
    choices = meta.get("choices") or ()
    for item in value if isinstance(value, list) else [value]:
        if choices and item not in choices:
            raise SettingsError(f"setting {key}: {item!r} is not one of "
                                f"{', '.join(repr(c) for c in choices)}")
    minimum = meta.get("minimum")
    if minimum is not None and value < minimum:
        raise SettingsError(f"setting {key}: {value!r} is below the minimum {minimum:g}")
    if meta.get("unit") == DURATION:
        parse_duration(value, key=key)
    if meta.get("unit") == HOSTPORT and value:
        parse_listen(value, key=key)


def _build(cls: type[Any], table: Mapping[str, Any], env: Mapping[str, str], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(table) - known
    if unknown:
        name = sorted(unknown)[0]
        raise SettingsError(
            f"setting {prefix}{name} is unknown",
            hint=f"known keys of [{prefix.rstrip('.') or 'top'}]: {', '.join(sorted(known))}",
        )
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        typ = hints[f.name]
        env_name = "STRATUSLAB_" + key.upper().replace(".", "_")
        if dataclasses.is_dataclass(typ):
            sub = table.get(f.name, {})
            if not isinstance(sub, Mapping):
                raise SettingsError(f"setting {key} must be a table", key=key,
                                    hint=f"write its keys under a [{key}] header")
            kwargs[f.name] = _build(typ, sub, env, f"{key}.")  # type: ignore[arg-type]
            continue
        if env_name in env:
            kwargs[f.name] = _coerce(env[env_name], typ, key)
        elif f.name in table:
            kwargs[f.name] = _coerce(table[f.name], typ, key)
        else:
            continue
        _check(kwargs[f.name], f.metadata, key)
    return cls(**kwargs)


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SettingsError(f"settings file {path} does not exist", key="-") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"settings file {path} is not valid TOML: {exc}", key="-") from None


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Read TOML `path` (optional), apply the environment, then `overrides` (command-line flags)."""
    from stratuslab.settings.validate import validate

    table: dict[str, Any] = read_toml(path) if path else {}
    for section, values in (overrides or {}).items():
        given = {k: v for k, v in values.items() if v is not None}
        if not given:
            continue
        current = table.setdefault(section, {})
        if not isinstance(current, dict):
            raise SettingsError(f"setting {section} must be a table", key=section,
                                hint=f"write its keys under a [{section}] header")
        current.update(given)
    settings: Settings = _build(Settings, table, os.environ if env is None else env, "")
    validate(settings)
    return settings
