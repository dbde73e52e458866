"""The `iscsi` volume backend: raw files in a directory, each exported by tgt as target
`iqn.2026-11.org.stratuslab:<uuid>` with LUN 1; QEMU attaches them with its own iSCSI client
(`iscsi://<portal>/<iqn>/1`, package qemu-block-extra).

tgt serves raw files only, so a copy-on-write child here is a full (sparse) copy of its parent
made with `qemu-img convert`: `capabilities.copy_on_write` is False.  Imports `core` and
`drivers._process` (through base and tgt) only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from stratuslab.core.errors import DriverError
from stratuslab.core.hypervisor import DiskAuth
from stratuslab.core.volumes import BackendCaps, BackendVolume, ParentFile, iqn_for
from stratuslab.drivers.storage.volumes.base import (
    QemuImg,
    VolumeBackend,
    checked_uuid,
    parent_size,
    remove_quietly,
    tmp_path,
)
from stratuslab.drivers.storage.volumes.tgt import TgtDaemon


class IscsiBackend(VolumeBackend):
    name: ClassVar[str] = "iscsi"
    capabilities: ClassVar[BackendCaps] = BackendCaps(copy_on_write=False, remote=True)

    def __init__(
        self,
        directory: str | os.PathLike[str],
        tgt: TgtDaemon,
        *,
        initiators: Sequence[str] = ("127.0.0.1",),
        manage_daemon: bool = True,
        qemu_img: QemuImg | None = None,
        chap: bool = True,
    ) -> None:
        self.directory = Path(directory)
        self.tgt = tgt
        self.initiators = tuple(initiators)
        self.manage_daemon = manage_daemon
        self.qemu_img = qemu_img or QemuImg()
        self.chap = chap

    def _path(self, uuid: str) -> Path:
        return self.directory / f"{checked_uuid(uuid)}.raw"

    def _daemon(self) -> TgtDaemon:
        if self.manage_daemon:
            self.tgt.ensure_started()
        return self.tgt

    def create(self, uuid: str, size_gb: int, parent: ParentFile | None = None) -> str:
        final = self._path(uuid)
        if final.exists():
            return str(final)
        self.directory.mkdir(parents=True, exist_ok=True)
        size = parent_size(self.qemu_img, parent, size_gb)
        part = tmp_path(final)
        try:
            if parent is None:
                with open(part, "wb") as f:  # sparse: no block is written
                    f.truncate(size)
            else:
                self.qemu_img.convert(parent, part, fmt="raw")
                if part.stat().st_size < size:
                    self.qemu_img.resize(part, size, fmt="raw")
            part.rename(final)
        finally:
            remove_quietly(part)
        return str(final)

    def export(self, uuid: str) -> str:
        path = self._path(uuid)
        if not path.exists():
            raise DriverError(
                f"volume {uuid} has no backing file {path} in pool directory {self.directory}",
                hint="the file was removed outside StratusLab; delete the volume",
            )
        iqn = iqn_for(uuid)
        daemon = self._daemon()
        tid = daemon.new_target(iqn, str(path), self.initiators)
        auth = self.credentials(uuid)
        if auth is not None:
            daemon.bind_account(tid, auth.user, auth.password)
        return f"iscsi://{self.tgt.config.portal}/{iqn}/1"

    def credentials(self, uuid: str) -> DiskAuth | None:
        """The volume's own CHAP account: a user named after it and a password derived from
        the pool's secret key (HMAC-SHA256), so nothing is stored per volume and a restart
        exports it again with the same credentials.  None when the pool has chap = false."""
        if not self.chap:
            return None
        digest = hmac.new(self._chap_key(), checked_uuid(uuid).encode(), hashlib.sha256)
        return DiskAuth("sl-" + uuid.replace("-", ""), digest.hexdigest()[:32])

    def _chap_key(self) -> bytes:
        """The pool's secret (`.chap-key`, 0600, made on first use)."""
        key_file = self.directory / ".chap-key"
        try:
            return key_file.read_bytes()
        except FileNotFoundError:
            pass
        self.directory.mkdir(parents=True, exist_ok=True)
        part = key_file.with_name(f".chap-key.{os.getpid()}.part")
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
        try:
            os.link(part, key_file)  # the first writer wins; others read its key
        except FileExistsError:
            pass
        finally:
            part.unlink()
        return key_file.read_bytes()

    def unexport(self, uuid: str) -> None:
        iqn = iqn_for(checked_uuid(uuid))
        if not self.tgt.running():
            return
        tid = self.tgt.targets().get(iqn)
        if tid is not None:
            self.tgt.delete_target(tid)
        if self.chap:
            self.tgt.delete_account("sl-" + uuid.replace("-", ""))

    def delete(self, uuid: str) -> None:
        self.unexport(uuid)
        remove_quietly(self._path(uuid))

    def list(self) -> list[BackendVolume]:
        if not self.directory.is_dir():
            return []
        exported = set(self.tgt.targets()) if self.tgt.running() else set()
        return [
            BackendVolume(p.stem, str(p), p.stat().st_blocks * 512, iqn_for(p.stem) in exported)
            for p in sorted(self.directory.glob("*.raw"))
        ]

    def source_format(self, uuid: str) -> str:
        return "raw"

    def stop(self) -> None:
        """Remove every target and stop tgtd (only a daemon this backend manages)."""
        if self.manage_daemon:
            self.tgt.stop()
