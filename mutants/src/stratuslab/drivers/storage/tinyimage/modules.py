"""Which kernel module files a guest needs, in load order, from depmod's text indexes.

Pure functions over the text of ``modules.dep``, ``modules.alias``, ``modules.softdep`` and
``modules.builtin``; no I/O.  Imports only the standard library and core.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from stratuslab.core.errors import DriverError

_SUFFIXES = (".ko.xz", ".ko.zst", ".ko.gz", ".ko")


def module_name(path: str) -> str:
    """'kernel/fs/ext4/ext4.ko.xz' -> 'ext4'; dashes and underscores are the same to the kernel."""
    base = path.rsplit("/", 1)[-1]
    for suffix in _SUFFIXES:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base.replace("-", "_")


@dataclass(frozen=True, slots=True)
class ModuleIndex:
    deps: dict[str, tuple[str, ...]]  # module file -> files it depends on
    by_name: dict[str, str]  # module name -> module file
    aliases: tuple[tuple[str, str], ...]  # (pattern, module name)
    softdeps: dict[str, tuple[str, ...]]  # module name -> pre/post names or aliases
    builtin: frozenset[str]  # names compiled into the kernel

    @classmethod
    def parse(cls, dep: str, alias: str = "", softdep: str = "", builtin: str = "") -> ModuleIndex:
        deps: dict[str, tuple[str, ...]] = {}
        for line in dep.splitlines():
            if ":" not in line:
                continue
            path, _, rest = line.partition(":")
            deps[path.strip()] = tuple(rest.split())
        aliases = []
        for line in alias.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "alias":
                aliases.append((parts[1], parts[2].replace("-", "_")))
        softdeps: dict[str, tuple[str, ...]] = {}
        for line in softdep.splitlines():
            parts = line.split()
            if len(parts) > 2 and parts[0] == "softdep":
                names = tuple(p for p in parts[2:] if p not in ("pre:", "post:"))
                key = parts[1].replace("-", "_")
                softdeps[key] = softdeps.get(key, ()) + names
        return cls(
            deps=deps,
            by_name={module_name(p): p for p in deps},
            aliases=tuple(aliases),
            softdeps=softdeps,
            builtin=frozenset(module_name(p) for p in builtin.split()),
        )

    def lookup(self, name: str) -> list[str]:
        """Module names that `name` designates: itself, or every module an alias points to."""
        norm = name.replace("-", "_")
        if norm in self.by_name or norm in self.builtin:
            return [norm]
        found = [
            mod for pattern, mod in self.aliases if fnmatch.fnmatchcase(name, pattern)
        ]
        return list(dict.fromkeys(found))


def resolve(index: ModuleIndex, wanted: Iterable[str]) -> list[str]:
    """Module files to load, dependencies first; built-in modules are skipped.

    A wanted module that is neither built in nor shipped is an error; a soft dependency that
    cannot be found is skipped (it is optional by nature).
    """
    order: list[str] = []
    seen: set[str] = set()

    def visit_file(path: str) -> None:
        if path in seen:
            return
        seen.add(path)
        name = module_name(path)
        for soft in index.softdeps.get(name, ()):
            for mod in index.lookup(soft):
                visit_name(mod)
        for dep in index.deps.get(path, ()):
            visit_file(dep)
        order.append(path)

    def visit_name(name: str) -> None:
        if name in index.builtin:
            return
        path = index.by_name.get(name)
        if path is not None:
            visit_file(path)

    for want in wanted:
        names = index.lookup(want)
        if not names:
            raise DriverError(
                f"kernel module {want} is neither built in nor shipped with this kernel",
                hint="remove it from the image recipe or choose another kernel package",
            )
        for name in names:
            visit_name(name)
    return order
