"""The `simulated` volume backend: volumes that exist only as records, for scale tests and
demos with the simulated hypervisor.  Optionally keeps its state in a JSON file so that a
restarted server finds its volumes again (a real feature, as Ganeti's fake hypervisor).

Product code, not a test double: it follows the same contract as the real backends.
Imports `core` only.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import ClassVar

from stratuslab.core.errors import DriverError
from stratuslab.core.volumes import BackendCaps, BackendVolume, ParentFile
from stratuslab.drivers.storage.volumes.base import GIB, VolumeBackend, checked_uuid


class SimulatedBackend(VolumeBackend):
    name: ClassVar[str] = "simulated"
    capabilities: ClassVar[BackendCaps] = BackendCaps(real=False)

    def __init__(self, state_file: str | os.PathLike[str] | None = None) -> None:
        self._state_file = Path(state_file) if state_file else None
        self._lock = threading.Lock()
        self._volumes: dict[str, dict[str, object]] = {}
        if self._state_file and self._state_file.exists():
            self._volumes = json.loads(self._state_file.read_text())

    def _save(self) -> None:
        if self._state_file is not None:
            self._state_file.parent.mkdir(parents=True, exist_ok=True)
            part = self._state_file.with_suffix(".part")
            part.write_text(json.dumps(self._volumes, sort_keys=True))
            part.replace(self._state_file)

    def create(self, uuid: str, size_gb: int, parent: ParentFile | None = None) -> str:
        with self._lock:
            self._volumes.setdefault(
                checked_uuid(uuid),
                {"size": size_gb * GIB, "parent": parent.path if parent else None, "exported": False},
            )
            self._save()
        return f"simulated:{uuid}"

    def delete(self, uuid: str) -> None:
        with self._lock:
            self._volumes.pop(checked_uuid(uuid), None)
            self._save()

    def export(self, uuid: str) -> str:
        with self._lock:
            entry = self._volumes.get(checked_uuid(uuid))
            if entry is None:
                raise DriverError(f"simulated volume {uuid} does not exist")
            entry["exported"] = True
            self._save()
        return f"simulated://{uuid}"

    def unexport(self, uuid: str) -> None:
        with self._lock:
            entry = self._volumes.get(checked_uuid(uuid))
            if entry is not None:
                entry["exported"] = False
                self._save()

    def list(self) -> list[BackendVolume]:
        with self._lock:
            return [
                BackendVolume(
                    u, f"simulated:{u}", int(str(e["size"])), exported=bool(e["exported"])
                )
                for u, e in sorted(self._volumes.items())
            ]

    def source_format(self, uuid: str) -> str:
        return "raw"
