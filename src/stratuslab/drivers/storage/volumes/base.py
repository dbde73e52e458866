"""The volume backend contract, and qemu-img helpers that file-based backends share.

Rules every backend follows (tests/contract/test_volume_backends.py checks them):
- every method is idempotent: creating an existing volume returns its location, deleting or
  unexporting a missing one succeeds;
- a failed `create` leaves nothing behind (files are made under a temporary name and renamed);
- names come only from validated UUIDs, so no caller-supplied text ever reaches a path or argv;
- external commands run through `drivers._process` with a timeout; their stderr is in the error.

Imports `core` and `drivers._process` only.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from stratuslab.core.errors import DriverError, InvalidInput
from stratuslab.core.hypervisor import DiskAuth
from stratuslab.core.volumes import UUID_RE, BackendCaps, BackendVolume, ParentFile
from stratuslab.drivers import _process
from stratuslab.drivers.storage.diskformat import qemu_img_info

GIB = 1024**3


class VolumeBackend(ABC):
    name: ClassVar[str]
    capabilities: ClassVar[BackendCaps]

    @abstractmethod
    def create(self, uuid: str, size_gb: int, parent: ParentFile | None = None) -> str: ...

    @abstractmethod
    def delete(self, uuid: str) -> None: ...

    @abstractmethod
    def export(self, uuid: str) -> str: ...

    @abstractmethod
    def unexport(self, uuid: str) -> None: ...

    @abstractmethod
    def list(self) -> list[BackendVolume]: ...

    @abstractmethod
    def source_format(self, uuid: str) -> str: ...

    def credentials(self, uuid: str) -> DiskAuth | None:
        """What the node attaching the volume needs to log in to its export (None: nothing)."""
        return None

    def close(self) -> None:
        """Server shutdown: let go of in-process resources.  Exports keep serving (running VMs
        keep their disks) and the next backend object on the same settings adopts them."""
        return None

    def stop(self) -> None:
        """Tear down what the backend started, exports included (tests, decommissioning)."""
        return None


def checked_uuid(uuid: str) -> str:
    if not UUID_RE.match(uuid):
        raise InvalidInput(f"{uuid!r} is not a volume UUID")
    return uuid


class QemuImg:
    """qemu-img through `_process.run`, with one timeout for every call.  Every call names the
    format of each file it opens (`-f`, `-F`): a header is never probed, so a guest that wrote a
    qcow2 header into its raw volume cannot make a clone open a host file."""

    def __init__(self, binary: str = "qemu-img", *, timeout: float = 120.0) -> None:
        self.binary = binary
        self.timeout = timeout

    def info(self, path: str | os.PathLike[str], *, fmt: str) -> dict[str, object]:
        return qemu_img_info(path, fmt, qemu_img=self.binary, timeout=self.timeout)

    def virtual_size(self, path: str | os.PathLike[str], *, fmt: str) -> int:
        size = self.info(path, fmt=fmt).get("virtual-size", 0)
        return int(size) if isinstance(size, int | str) else 0

    def create(
        self, path: Path, size_bytes: int, *, fmt: str, backing: ParentFile | None = None
    ) -> None:
        argv = [self.binary, "create", "-q", "-f", fmt]
        if backing is not None:
            argv += ["-b", os.path.abspath(backing.path), "-F", backing.format]
        _process.run([*argv, str(path), str(size_bytes)], timeout=self.timeout)

    def convert(self, source: ParentFile, dest: Path, *, fmt: str) -> None:
        _process.run(
            [self.binary, "convert", "-q", "-f", source.format, "-O", fmt, source.path, str(dest)],
            timeout=self.timeout,
        )

    def resize(self, path: Path, size_bytes: int, *, fmt: str) -> None:
        _process.run(
            [self.binary, "resize", "-q", "-f", fmt, str(path), str(size_bytes)],
            timeout=self.timeout,
        )


def parent_size(qemu_img: QemuImg, parent: ParentFile | None, size_gb: int) -> int:
    """A child is never smaller than its parent: the guest would see a truncated disk."""
    size = size_gb * GIB
    if parent is not None:
        if not os.path.exists(parent.path):
            raise DriverError(f"parent {parent.path} of the new volume does not exist")
        size = max(size, qemu_img.virtual_size(parent.path, fmt=parent.format))
    return size


def tmp_path(final: Path) -> Path:
    return final.with_name(f".{final.name}.part")


def remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
