"""`FileInstanceStorage`: instance directories on a node's local disk, and their quarantine.

``<instances_dir>/<vm_id>/`` holds the root overlay, swap, volatile disks, the context media and
``definition.json``; at the end of a VM the whole directory moves to
``<quarantine_dir>/<vm_id>/`` (mode 0700, with ``quarantine.json``) or is deleted.  A failed
prepare removes what it made.  Implements `stratuslab.core.instance.InstanceStoragePort`.
Imports core and `_process` (through `media`) only.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping

from stratuslab.core.errors import DriverError, InvalidInput, NotFound
from stratuslab.core.hypervisor import BootSpec, DiskSpec
from stratuslab.core.instance import (
    ContextSpec,
    PreparedInstance,
    PrologRequest,
    QuarantineEntry,
)
from stratuslab.drivers.storage.instance import context, media

MAX_VOLATILE_GB = 1024
_DEFINITION = "definition.json"
_QUARANTINE = "quarantine.json"


class FileInstanceStorage:
    """Instance disks as files: qcow2 overlays on base images, sparse swap and volatile disks."""

    def __init__(
        self, instances_dir: str, quarantine_dir: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._instances = os.path.abspath(instances_dir)
        self._quarantine = os.path.abspath(quarantine_dir)
        self._clock = clock

    def instance_dir(self, vm_id: int) -> str:
        return os.path.join(self._instances, str(vm_id))

    # -- prolog ------------------------------------------------------------------------------

    def prepare(self, request: PrologRequest) -> PreparedInstance:
        _validate(request)
        path = self.instance_dir(request.vm_id)
        done = _load_definition(path)
        if done is not None:
            return done  # a retried prolog: the directory is complete already
        shutil.rmtree(path, ignore_errors=True)  # leftovers of an interrupted prepare
        os.makedirs(self._instances, exist_ok=True)
        os.mkdir(path, 0o750)
        try:
            disks = self._make_disks(request, path)
            prepared = PreparedInstance(instance_dir=path, disks=tuple(disks), boot=request.boot)
            _write_definition(path, request, prepared)
            return prepared
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise

    def _make_disks(self, request: PrologRequest, path: str) -> list[DiskSpec]:
        if not os.path.isfile(request.image_path):
            raise DriverError(
                f"VM {request.vm_id}: base image file {request.image_path} does not exist",
                hint="re-import or re-build the image (stratus image list shows its state)",
            )
        root = os.path.join(path, "root.qcow2")
        media.overlay(request.image_path, request.image_format, root)
        disks = [DiskSpec(name="root", source=root, format="qcow2")]
        if request.swap_mib > 0:
            swap = os.path.join(path, "swap.img")
            media.swap_file(swap, request.swap_mib)
            disks.append(DiskSpec(name="swap", source=swap, format="raw"))
        for n, size in enumerate(request.volatile_gb, start=1):
            vol = os.path.join(path, f"volatile-{n}.qcow2")
            media.blank_qcow2(vol, size)
            disks.append(DiskSpec(name=f"volatile-{n}", source=vol, format="qcow2"))
        if request.context is not None:
            disks += _context_media(request.context, path)
        return disks

    # -- epilog and quarantine -----------------------------------------------------------------

    def release(self, vm_id: int, *, owner: str, quarantine: bool = True) -> None:
        path = self.instance_dir(vm_id)
        if not os.path.isdir(path):
            return  # released already
        if not quarantine:
            shutil.rmtree(path)
            return
        os.makedirs(self._quarantine, mode=0o700, exist_ok=True)
        os.chmod(self._quarantine, 0o700)
        dest = os.path.join(self._quarantine, str(vm_id))
        n = 1
        while os.path.lexists(dest):  # the same VM quarantined before (e.g. a retried prolog)
            dest, n = os.path.join(self._quarantine, f"{vm_id}.{n}"), n + 1
        shutil.move(path, dest)
        os.chmod(dest, 0o700)
        note = {"vm_id": vm_id, "owner": owner, "quarantined_at": self._clock()}
        with open(os.path.join(dest, _QUARANTINE), "w") as f:
            json.dump(note, f)

    def quarantined(self) -> list[QuarantineEntry]:
        entries = []
        for name in sorted(os.listdir(self._quarantine)) if os.path.isdir(self._quarantine) else []:
            dest = os.path.join(self._quarantine, name)
            try:
                with open(os.path.join(dest, _QUARANTINE)) as f:
                    note = json.load(f)
            except (OSError, ValueError):
                continue  # not one of ours, or being written
            entries.append(
                QuarantineEntry(
                    vm_id=int(note["vm_id"]),
                    owner=str(note["owner"]),
                    path=dest,
                    quarantined_at=float(note["quarantined_at"]),
                    size_bytes=_allocated(dest),
                )
            )
        return sorted(entries, key=lambda e: (e.quarantined_at, e.vm_id))

    def purge(self, vm_id: int) -> None:
        found = [e for e in self.quarantined() if e.vm_id == vm_id]
        if not found:
            raise NotFound("quarantined VM", vm_id, "stratus quarantine list")
        for entry in found:
            shutil.rmtree(entry.path)


def _validate(request: PrologRequest) -> None:
    if request.swap_mib < 0:
        raise InvalidInput(f"VM {request.vm_id}: swap of {request.swap_mib} MiB is negative")
    for size in request.volatile_gb:
        if not 1 <= size <= MAX_VOLATILE_GB:
            raise InvalidInput(
                f"VM {request.vm_id}: a volatile disk of {size} GB is out of range",
                hint=f"choose a size from 1 to {MAX_VOLATILE_GB} GB",
            )
    if request.image_format not in ("qcow2", "raw"):
        raise InvalidInput(
            f"VM {request.vm_id}: image format {request.image_format!r} is not qcow2 or raw"
        )
    if request.context is not None:
        context.nics(request.context)  # validates addresses before anything is made
        context.context_sh(request.context)  # validates the user's context keys


def _context_media(spec: ContextSpec, path: str) -> list[DiskSpec]:
    seed_files = {
        "meta-data": context.meta_data(spec),
        "user-data": context.user_data(spec),
        "network-config": context.network_config(spec),
    }
    disks = [_iso(path, "seed.iso", "cidata", seed_files, "context")]
    if spec.method == "one":
        files = {"context.sh": context.context_sh(spec)}
        disks.append(_iso(path, "context.iso", "CONTEXT", files, "context-one"))
    elif spec.method != "cloud-init":
        raise InvalidInput(
            f"context method {spec.method!r} is unknown", hint="choose cloud-init or one"
        )
    return disks


def _iso(path: str, name: str, label: str, files: Mapping[str, str | None], disk: str) -> DiskSpec:
    with tempfile.TemporaryDirectory(dir=path, prefix=f".{label}-") as src:
        for fname, text in files.items():
            if text is not None:
                with open(os.path.join(src, fname), "w", encoding="utf-8") as f:
                    f.write(text)
        media.iso(src, label, os.path.join(path, name))
    return DiskSpec(
        name=disk, source=os.path.join(path, name), format="raw", kind="cdrom", readonly=True
    )


def _write_definition(path: str, request: PrologRequest, prepared: PreparedInstance) -> None:
    doc = {"request": dataclasses.asdict(request), "prepared": dataclasses.asdict(prepared)}
    tmp = os.path.join(path, _DEFINITION + ".tmp")
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2, sort_keys=True, default=str)
    os.chmod(tmp, 0o600)
    os.rename(tmp, os.path.join(path, _DEFINITION))


def _load_definition(path: str) -> PreparedInstance | None:
    try:
        with open(os.path.join(path, _DEFINITION)) as f:
            prepared = json.load(f)["prepared"]
        return PreparedInstance(
            instance_dir=prepared["instance_dir"],
            disks=tuple(DiskSpec(**d) for d in prepared["disks"]),
            boot=BootSpec(**prepared["boot"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _allocated(root: str) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                pass
    return total
