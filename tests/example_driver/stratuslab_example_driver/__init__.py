"""An example third-party instance-storage driver: the simulated one, marking each instance
directory so a test can see that this driver, found by its entry point, did the work."""

from __future__ import annotations

from pathlib import Path

from stratuslab.core.instance import PreparedInstance, PrologRequest
from stratuslab.drivers.storage.simulated import SimulatedInstanceStorage


class ExampleInstanceStorage(SimulatedInstanceStorage):
    def prepare(self, request: PrologRequest) -> PreparedInstance:
        prepared = super().prepare(request)
        (Path(prepared.instance_dir) / "made-by-example-driver").write_text("yes\n")
        return prepared
