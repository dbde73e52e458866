"""Persistent volumes over iSCSI with a real tgtd and QEMU's iSCSI client (qemu-io).

Each test starts its own tgtd on a private control port and a loopback (or namespace) portal and
stops it at teardown, even on failure.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import uuid as uuidlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.helpers.iscsi import qemu_io

from stratuslab.core.entities import Principal
from stratuslab.core.errors import DriverError
from stratuslab.core.volumes import CreateVolume, VolumeAttached, iqn_for
from stratuslab.drivers import _process
from stratuslab.drivers.storage.volumes import IscsiBackend, build_backend
from stratuslab.services.storage.memory import InMemoryStorageUnitOfWork
from stratuslab.services.storage.service import VolumeService

pytestmark = pytest.mark.integration

ALICE = Principal("alice", 1, groups=("physics",))


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_control_port() -> int:
    while True:
        port = random.randint(20000, 29999)
        if not os.path.exists(f"/var/run/tgtd/socket.{port}"):
            return port


def tgtd_pids(control_port: int) -> list[int]:
    out = subprocess.run(["pgrep", "-f", f"tgtd -f -C {control_port} "], capture_output=True)
    return [int(p) for p in out.stdout.split()]


@pytest.fixture
def iscsi(tmp_path: Path) -> Iterator[IscsiBackend]:
    table = {
        "backend": "iscsi",
        "path": str(tmp_path / "san"),
        "portal": f"127.0.0.1:{free_tcp_port()}",
        "control_port": free_control_port(),
    }
    backend = build_backend("san", table, data_dir=str(tmp_path))
    assert isinstance(backend, IscsiBackend)
    try:
        yield backend
    finally:
        backend.stop()
    assert tgtd_pids(backend.tgt.config.control_port) == []


def test_marker_written_over_iscsi_lands_in_the_backing_file_and_detach_unexports(
    iscsi: IscsiBackend,
) -> None:
    svc = VolumeService(
        InMemoryStorageUnitOfWork(), {"san": iscsi}, clock=Clock(), default_pool="san"
    )
    vol = svc.create(ALICE, CreateVolume(size_gb=1, tag="marker"))
    plan = svc.attach(ALICE, vol.uuid, 17)
    iqn = iqn_for(vol.uuid)
    assert plan.source == f"iscsi://{iscsi.tgt.config.portal}/{iqn}/1" and plan.format == "raw"
    assert "wrote 4096/4096" in qemu_io(plan.source, "write -P 0x5a 0 4k", auth=plan.auth)

    with open(vol.location or "", "rb") as f:
        assert f.read(4096) == b"\x5a" * 4096
    with pytest.raises(VolumeAttached, match="detach-volume -i 17"):
        svc.attach(ALICE, vol.uuid, 18)

    svc.detach(ALICE, vol.uuid, 17)
    assert iqn not in iscsi.tgt.targets()
    with pytest.raises(DriverError):
        qemu_io(plan.source, "read 0 4k", auth=plan.auth)
    svc.delete(ALICE, vol.uuid)
    assert not os.path.exists(vol.location or "")


def test_delete_of_an_exported_volume_removes_its_target(iscsi: IscsiBackend) -> None:
    u = str(uuidlib.uuid4())
    path = iscsi.create(u, 1)
    source = iscsi.export(u)
    assert "read 512/512" in qemu_io(source, "read -P 0 0 512", auth=iscsi.credentials(u))
    iscsi.delete(u)
    assert iscsi.tgt.targets() == {} and not os.path.exists(path)


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"slvol{os.getpid() % 100000}"
    _process.run(["ip", "netns", "add", name])
    try:
        _process.run(["ip", "-n", name, "link", "set", "lo", "up"])
        yield name
    finally:
        _process.run(["ip", "netns", "delete", name], check=False)


def test_tgtd_inside_a_namespace_serves_only_that_namespace(tmp_path: Path, netns: str) -> None:
    port = free_tcp_port()
    table = {
        "backend": "iscsi",
        "path": str(tmp_path / "san"),
        "portal": f"127.0.0.1:{port}",
        "control_port": free_control_port(),
        "netns": netns,
    }
    backend = build_backend("ns", table, data_dir=str(tmp_path))
    try:
        u = str(uuidlib.uuid4())
        path = backend.create(u, 1)
        source = backend.export(u)
        assert "wrote 512/512" in qemu_io(source, "write -P 0xa5 512 512", auth=backend.credentials(u),
                                           netns=netns)
        with open(path, "rb") as f:
            f.seek(512)
            assert f.read(512) == b"\xa5" * 512
        with pytest.raises(DriverError):  # the host's loopback has no such portal
            qemu_io(source, "read 0 512", auth=backend.credentials(u))
    finally:
        backend.stop()
    assert _process.run(["ip", "netns", "pids", netns]).stdout.strip() == ""


def test_server_restart_keeps_exports_and_a_new_backend_adopts_tgtd(
    iscsi: IscsiBackend, tmp_path: Path
) -> None:
    u = str(uuidlib.uuid4())
    iscsi.create(u, 1)
    source = iscsi.export(u)
    pid = tgtd_pids(iscsi.tgt.config.control_port)
    iscsi.close()  # what stratus-server does when it stops: attached VMs keep their disks
    assert "read 512/512" in qemu_io(source, "read 0 512", auth=iscsi.credentials(u))
    table = {
        "backend": "iscsi",
        "path": str(iscsi.directory),
        "portal": iscsi.tgt.config.portal,
        "control_port": iscsi.tgt.config.control_port,
    }
    again = build_backend("san", table, data_dir=str(tmp_path))
    assert again.export(u) == source
    assert tgtd_pids(iscsi.tgt.config.control_port) == pid
    assert [(v.uuid, v.exported) for v in again.list()] == [(u, True)]
