"""One contract every volume backend passes: file, simulated, and iscsi on a real tgtd."""

from __future__ import annotations

import os
import random
import socket
import uuid as uuidlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from stratuslab.core.errors import DriverError, InvalidInput
from stratuslab.core.volumes import ParentFile
from stratuslab.drivers import _process
from stratuslab.drivers.storage.volumes import VolumeBackend, build_backend, build_backends

GIB = 1024**3


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_control_port() -> int:
    while True:
        port = random.randint(20000, 29999)
        if not os.path.exists(f"/var/run/tgtd/socket.{port}"):
            return port


def iscsi_table(path: Path) -> dict[str, object]:
    return {
        "backend": "iscsi",
        "path": str(path / "pool"),
        "portal": f"127.0.0.1:{free_tcp_port()}",
        "control_port": free_control_port(),
    }


@pytest.fixture(
    params=[
        "file",
        "simulated",
        pytest.param("iscsi", marks=pytest.mark.integration),
    ]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VolumeBackend]:
    table: dict[str, object] = {"backend": request.param, "path": str(tmp_path / "pool")}
    if request.param == "iscsi":
        table = iscsi_table(tmp_path)
    b = build_backend("contract", table, data_dir=str(tmp_path))
    try:
        yield b
    finally:
        b.stop()  # stops tgtd (the iscsi backend started it on first export)


def new_uuid() -> str:
    return str(uuidlib.uuid4())


def test_create_is_idempotent_and_listed(backend: VolumeBackend) -> None:
    u = new_uuid()
    loc = backend.create(u, 1)
    assert backend.create(u, 1) == loc
    assert [v.uuid for v in backend.list()] == [u]


def test_export_returns_a_source_of_the_declared_format(backend: VolumeBackend) -> None:
    u = new_uuid()
    backend.create(u, 1)
    source = backend.export(u)
    assert backend.export(u) == source  # idempotent
    assert u in source
    assert backend.source_format(u) in ("qcow2", "raw")
    backend.unexport(u)
    backend.unexport(u)


def test_delete_removes_everything_and_is_idempotent(backend: VolumeBackend) -> None:
    u = new_uuid()
    backend.create(u, 1)
    backend.export(u)
    backend.delete(u)
    backend.delete(u)
    assert backend.list() == []


def test_export_of_a_missing_volume_is_a_driver_error(backend: VolumeBackend) -> None:
    with pytest.raises(DriverError, match="volume"):
        backend.export(new_uuid())


def test_names_that_are_not_uuids_never_reach_a_path(backend: VolumeBackend) -> None:
    with pytest.raises(InvalidInput):
        backend.create("../../etc/passwd", 1)


def test_child_of_a_parent_is_at_least_the_parents_size(
    backend: VolumeBackend, tmp_path: Path
) -> None:
    if not backend.capabilities.real:
        pytest.skip("the simulated backend keeps no bytes")
    parent = tmp_path / "base.qcow2"
    _process.run(["qemu-img", "create", "-q", "-f", "qcow2", str(parent), str(2 * GIB)])
    _process.run(["qemu-io", "-f", "qcow2", str(parent), "-c", "write -P 0x33 0 64k"])
    u = new_uuid()
    loc = backend.create(u, 1, ParentFile(str(parent), "qcow2"))
    info = _process.run(["qemu-img", "info", "--output=json", "-U", "-f", backend.source_format(u), loc]).stdout
    assert f'"virtual-size": {2 * GIB}' in info
    read = _process.run(
        ["qemu-io", "-f", backend.source_format(u), "-r", loc, "-c", "read -P 0x33 0 64k"]
    )
    assert "read 65536/65536 bytes" in read.stdout


def test_unknown_backend_and_keys_are_named_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"storage.pools.x.backend: no driver 'nfs' is "
                                           "installed") as err:
        build_backend("x", {"backend": "nfs"}, data_dir=str(tmp_path))
    assert err.value.hint == "choose one of: file, iscsi, simulated"
    with pytest.raises(InvalidInput, match=r"storage.pools.x.portal is unknown"):
        build_backend("x", {"backend": "file", "portal": "a:1"}, data_dir=str(tmp_path))
    with pytest.raises(InvalidInput, match="host:port"):
        build_backend("x", {"backend": "iscsi", "portal": "nope"}, data_dir=str(tmp_path))
    pools = build_backends({"a": {}, "b": {"backend": "simulated"}}, data_dir=str(tmp_path))
    assert {n: b.name for n, b in pools.items()} == {"a": "file", "b": "simulated"}
