"""The `file` volume backend: one qcow2 file per volume in a directory on the node.

Copy-on-write children are qcow2 overlays (`qemu-img create -b parent -F fmt`), made in tens of
milliseconds whatever the parent's size.  The export is the file's path: QEMU on the same host
opens it directly.  Imports `core` and `drivers._process` (through base) only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from stratuslab.core.errors import DriverError
from stratuslab.core.volumes import BackendCaps, BackendVolume, ParentFile
from stratuslab.drivers.storage.volumes.base import (
    QemuImg,
    VolumeBackend,
    checked_uuid,
    parent_size,
    remove_quietly,
    tmp_path,
)


class FileBackend(VolumeBackend):
    name: ClassVar[str] = "file"
    capabilities: ClassVar[BackendCaps] = BackendCaps(copy_on_write=True, remote=False)

    def __init__(self, directory: str | os.PathLike[str], *, qemu_img: QemuImg | None = None):
        self.directory = Path(directory)
        self.qemu_img = qemu_img or QemuImg()

    def _path(self, uuid: str) -> Path:
        return self.directory / f"{checked_uuid(uuid)}.qcow2"

    def create(self, uuid: str, size_gb: int, parent: ParentFile | None = None) -> str:
        final = self._path(uuid)
        if final.exists():
            return str(final)
        self.directory.mkdir(parents=True, exist_ok=True)
        size = parent_size(self.qemu_img, parent, size_gb)
        part = tmp_path(final)
        try:
            self.qemu_img.create(part, size, fmt="qcow2", backing=parent)
            part.rename(final)
        finally:
            remove_quietly(part)
        return str(final)

    def delete(self, uuid: str) -> None:
        remove_quietly(self._path(uuid))

    def export(self, uuid: str) -> str:
        path = self._path(uuid)
        if not path.exists():
            raise DriverError(
                f"volume {uuid} has no file {path} in pool directory {self.directory}",
                hint="the file was removed outside StratusLab; delete the volume",
            )
        return str(path)

    def unexport(self, uuid: str) -> None:
        checked_uuid(uuid)

    def list(self) -> list[BackendVolume]:
        if not self.directory.is_dir():
            return []
        return [
            BackendVolume(p.stem, str(p), p.stat().st_size, exported=True)
            for p in sorted(self.directory.glob("*.qcow2"))
        ]

    def source_format(self, uuid: str) -> str:
        return "qcow2"
