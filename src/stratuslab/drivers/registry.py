"""Drivers found by name through `importlib.metadata` entry points, so a driver package
installed beside StratusLab is selectable in the settings with no change to this repository.

Groups (each driver kind's contract says what its entry point names and how it is called):
- `stratuslab.hypervisors`: a `drivers.hypervisor.base.Hypervisor` subclass;
- `stratuslab.network_drivers`: a `drivers.network.base.NetworkDriver` subclass;
- `stratuslab.instance_storage`: a class called as `cls(instances_dir, quarantine_dir)` whose
  instances implement `core.instance.InstanceStoragePort` (tests/contract/
  instance_storage_contract.py is the suite every one must pass).
Imports core only.
"""

from __future__ import annotations

from enum import StrEnum
from importlib.metadata import entry_points

from stratuslab.core.errors import InvalidInput


class DriverKind(StrEnum):
    HYPERVISOR = "stratuslab.hypervisors"
    NETWORK = "stratuslab.network_drivers"
    INSTANCE_STORAGE = "stratuslab.instance_storage"


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
