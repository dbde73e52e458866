"""What the libvirt driver remembers of each VM, one JSON file per VM under its run directory.

Libvirt itself knows only running domains (the driver uses transient ones), so a VM that is
suspended (its memory in a save file), shut off or crashed exists only here.  Writes go through
a temporary file and a rename, so a crash never leaves half a record.

Imports only the standard library.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

RUNNING = "running"
STOPPING = "stopping"  # the driver is stopping it: its end is expected and not an event
SUSPENDING = "suspending"
SUSPENDED = "suspended"
SHUTOFF = "shutoff"
CRASHED = "crashed"
SAVE_FILE = "libvirt-saved.bin"


class Records:
    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir / "vms"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def _path(self, vm_id: int) -> Path:
        return self.dir / f"{int(vm_id)}.json"

    def read(self, vm_id: int) -> dict[str, Any] | None:
        try:
            data = json.loads(self._path(vm_id).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data if isinstance(data, dict) else None

    def write(self, vm_id: int, record: dict[str, Any]) -> None:
        path = self._path(vm_id)
        tmp = path.with_suffix(".tmp")
        with self._lock:
            tmp.write_text(json.dumps(record, sort_keys=True))
            os.replace(tmp, path)

    def update(self, vm_id: int, **changes: Any) -> dict[str, Any] | None:
        with self._lock:
            record = self.read(vm_id)
            if record is None:
                return None
            record.update(changes)
            tmp = self._path(vm_id).with_suffix(".tmp")
            tmp.write_text(json.dumps(record, sort_keys=True))
            os.replace(tmp, self._path(vm_id))
            return record

    def forget(self, vm_id: int) -> None:
        self._path(vm_id).unlink(missing_ok=True)

    def vm_ids(self) -> list[int]:
        return sorted(int(p.stem) for p in self.dir.glob("*.json") if p.stem.isdigit())
