"""An example third-party driver package: the simulated drivers, each leaving a mark so a test
can see that this package, found by its entry points, did the work.

Each entry point names a factory called as its group says (stratuslab/drivers/registry.py); the
hypervisor factory reads the typed settings it is given, as the built-in ones do.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from stratuslab.core.instance import PreparedInstance, PrologRequest
from stratuslab.drivers.hypervisor.simulated import SimulatedHypervisor
from stratuslab.drivers.storage.simulated import SimulatedInstanceStorage
from stratuslab.drivers.storage.volumes import FILE_KEYS, SimulatedBackend, pool_path
from stratuslab.settings import Settings


class ExampleInstanceStorage(SimulatedInstanceStorage):
    def prepare(self, request: PrologRequest) -> PreparedInstance:
        prepared = super().prepare(request)
        (Path(prepared.instance_dir) / "made-by-example-driver").write_text("yes\n")
        return prepared


class ExampleHypervisor(SimulatedHypervisor):
    pass


def make_hypervisor(settings: Settings, *, netns: str | None) -> ExampleHypervisor:
    return ExampleHypervisor(settings.data_dir / "example-hypervisor",
                             host=settings.server.node_name)


class ExampleBackend(SimulatedBackend):
    name: ClassVar[str] = "example"


def make_volume_backend(pool: str, table: Mapping[str, Any], *, data_dir: str) -> ExampleBackend:
    path = pool_path(pool, table, data_dir=data_dir, keys=FILE_KEYS)
    return ExampleBackend(os.path.join(path, "example-volumes.json"))
