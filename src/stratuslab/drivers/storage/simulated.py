"""Simulated instance storage: instance directories with a definition file and no disks.

Product code for scale tests and demos with the simulated hypervisor; quarantine works the same
way as with real disks (the directory moves aside and is purged later).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from stratuslab.core.errors import NotFound
from stratuslab.core.hypervisor import DiskSpec
from stratuslab.core.instance import PreparedInstance, PrologRequest, QuarantineEntry


class SimulatedInstanceStorage:
    def __init__(
        self, instances_dir: str | os.PathLike[str], quarantine_dir: str | os.PathLike[str], *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.instances = Path(instances_dir)
        self.quarantine_dir = Path(quarantine_dir)
        self.instances.mkdir(parents=True, exist_ok=True)
        self.quarantine_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.clock = clock

    def prepare(self, request: PrologRequest) -> PreparedInstance:
        d = self.instances / str(request.vm_id)
        d.mkdir(parents=True, exist_ok=True)
        (d / "definition.json").write_text(json.dumps({"vm_id": request.vm_id, "name": request.name,
                                                       "image": request.image_path}))
        root = DiskSpec("root", request.image_path, request.image_format, readonly=True)
        return PreparedInstance(str(d), (root,), request.boot)

    def release(self, vm_id: int, *, owner: str, quarantine: bool) -> None:
        d = self.instances / str(vm_id)
        if not d.exists():
            return
        if not quarantine:
            shutil.rmtree(d, ignore_errors=True)
            return
        target = self.quarantine_dir / str(vm_id)
        shutil.rmtree(target, ignore_errors=True)
        d.replace(target)
        (target / "quarantine.json").write_text(
            json.dumps({"vm_id": vm_id, "owner": owner, "quarantined_at": self.clock()})
        )
        os.chmod(target, 0o700)

    def quarantined(self) -> list[QuarantineEntry]:
        out = []
        for meta in sorted(self.quarantine_dir.glob("*/quarantine.json")):
            data = json.loads(meta.read_text())
            out.append(QuarantineEntry(int(data["vm_id"]), data["owner"], str(meta.parent),
                                       float(data["quarantined_at"])))
        return out

    def purge(self, vm_id: int) -> None:
        if not (self.quarantine_dir / str(vm_id) / "quarantine.json").exists():
            raise NotFound("quarantined VM", vm_id, "stratus quarantine list")
        shutil.rmtree(self.quarantine_dir / str(vm_id), ignore_errors=True)
