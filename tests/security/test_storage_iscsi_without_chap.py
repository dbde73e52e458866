"""Attack: any host (or any VM's QEMU) that reaches the iSCSI portal from an allowed address
logs in to every volume's target and reads or writes another tenant's disk — the targets had no
authentication.

Each volume's target takes only its own CHAP account (a user named after the volume, a password
derived from the pool's secret key); the credentials travel only in the disk handed to the node
that attaches the volume."""

from __future__ import annotations

import os
import random
import uuid as uuidlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from tests.helpers.iscsi import qemu_io
from tests.helpers.net import free_port

from stratuslab.core.errors import DriverError
from stratuslab.drivers.storage.volumes import IscsiBackend, build_backend
from stratuslab.drivers.storage.volumes.iscsi import DiskAuth

pytestmark = pytest.mark.integration


@pytest.fixture
def san(tmp_path: Path) -> Iterator[IscsiBackend]:
    while os.path.exists(f"/var/run/tgtd/socket.{(control := random.randint(20000, 29999))}"):
        pass
    table = {"backend": "iscsi", "path": str(tmp_path / "san"),
             "portal": f"127.0.0.1:{free_port()}", "control_port": control}
    backend = build_backend("san", table, data_dir=str(tmp_path))
    assert isinstance(backend, IscsiBackend)
    try:
        yield backend
    finally:
        backend.stop()


def test_iscsi_target_refuses_logins_without_the_volumes_own_chap_credentials(
    san: IscsiBackend, tmp_path: Path
) -> None:
    mine, theirs = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    for u in (mine, theirs):
        san.create(u, 1)
    source = san.export(theirs)
    san.export(mine)
    creds = san.credentials(theirs)
    assert creds is not None and creds.password not in source  # never in the URI
    assert creds.password not in repr(creds)

    with pytest.raises(DriverError):  # no credentials
        qemu_io(source, "read 0 512")
    with pytest.raises(DriverError):  # another volume's account
        qemu_io(source, "read 0 512", auth=san.credentials(mine))
    with pytest.raises(DriverError):  # the right user, a guessed password
        qemu_io(source, "read 0 512", auth=replace(creds, password="0" * 32))
    assert "wrote 512/512" in qemu_io(source, "write -P 0x77 0 512", auth=creds)

    # stable across restarts (derived, not stored); another pool key gives other passwords
    assert san.credentials(theirs) == creds
    other_pool = build_backend("other", {"backend": "iscsi", "path": str(tmp_path / "other")},
                               data_dir=str(tmp_path))
    assert other_pool.credentials(theirs) != creds
    assert (tmp_path / "san" / ".chap-key").stat().st_mode & 0o077 == 0
    assert isinstance(creds, DiskAuth)
