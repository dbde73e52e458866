"""Drivers found by name through `importlib.metadata` entry points, so a driver package
installed beside StratusLab is selectable in the settings with no change to this repository.

Every entry point names a factory (a class is one); each kind's group says how it is called:
- `stratuslab.hypervisors`: `factory(settings, *, netns)` -> a `drivers.hypervisor.base.Hypervisor`
  (`bootstrap.nodes.HypervisorFactory`; the built-in factories sit in bootstrap/nodes.py because
  they read the typed settings, which drivers never import);
- `stratuslab.network_drivers`: `factory(settings)` -> a `bootstrap.wiring.DataPlane` (the node's
  network driver, the namespace its guests live in, closers);
- `stratuslab.instance_storage`: `factory(instances_dir, quarantine_dir)` -> an
  `core.instance.InstanceStoragePort` (tests/contract/instance_storage_contract.py);
- `stratuslab.volume_backends`: `factory(pool, table, *, data_dir)` -> a
  `drivers.storage.volumes.base.VolumeBackend`; `table` is the pool's `[storage.pools.<pool>]`.
Imports core only.
"""

from __future__ import annotations

from enum import StrEnum
from importlib.metadata import entry_points
from typing import TypeVar, cast

from stratuslab.core.errors import InvalidInput

T = TypeVar("T")


class DriverKind(StrEnum):
    HYPERVISOR = "stratuslab.hypervisors"
    NETWORK = "stratuslab.network_drivers"
    INSTANCE_STORAGE = "stratuslab.instance_storage"
    VOLUME_BACKEND = "stratuslab.volume_backends"


def installed(kind: DriverKind) -> list[str]:
    return sorted(ep.name for ep in entry_points(group=kind.value))


def load(kind: DriverKind, name: str, *, setting: str) -> object:
    """What the entry point `name` of `kind` names; `setting` is the key that chose it."""
    found = {ep.name: ep for ep in entry_points(group=kind.value)}
    if name not in found:
        known = ", ".join(sorted(found)) or "none (is the package installed? pip install -e .)"
        raise InvalidInput(f"setting {setting}: no driver {name!r} is installed "
                           f"(entry point group {kind.value})",
                           hint=f"choose one of: {known}")
    return found[name].load()


def build(kind: DriverKind, name: str, expect: type[T] | None, *args: object, setting: str,
          **kwargs: object) -> T:
    """Call the factory registered as `name` with `args`/`kwargs`; what it makes must be an
    `expect` (None: a Protocol the caller relies on, not checkable at run time)."""
    factory = load(kind, name, setting=setting)
    if not callable(factory):
        raise InvalidInput(f"setting {setting}: entry point {name!r} of {kind.value} is not "
                           "callable", hint="an entry point names a driver class or factory")
    made = factory(*args, **kwargs)
    if expect is not None and not isinstance(made, expect):
        raise InvalidInput(f"setting {setting}: driver {name!r} made a {type(made).__name__}, "
                           f"not a {expect.__name__}",
                           hint=f"its entry point in {kind.value} names the wrong object")
    return cast(T, made)
