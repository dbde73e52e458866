"""Hypervisor drivers, registered under the `stratuslab.hypervisors` entry-point group."""

from __future__ import annotations

from importlib.metadata import entry_points

from stratuslab.core.errors import InvalidInput
from stratuslab.drivers.hypervisor.base import Hypervisor


def load(name: str) -> type[Hypervisor]:
    """The driver class registered as `name`."""
    found = {ep.name: ep for ep in entry_points(group="stratuslab.hypervisors")}
    if name not in found:
        raise InvalidInput(
            f"hypervisor driver {name!r} is not installed",
            hint=f"choose one of: {', '.join(sorted(found)) or 'none found (pip install -e .)'}",
        )
    cls = found[name].load()
    if not (isinstance(cls, type) and issubclass(cls, Hypervisor)):
        raise InvalidInput(f"entry point {name!r} does not name a Hypervisor driver")
    return cls
