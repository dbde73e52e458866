"""Attack: from inside a guest, write a qcow2 header naming a host file at the start of a raw
volume, then clone (or convert) the volume: a tool that probes the format follows the header and
copies the host file into the clone.

Every qemu-img call passes the format recorded for the volume's pool (`-f raw`), so the clone
holds exactly the volume's own bytes."""

from __future__ import annotations

from pathlib import Path

from tests.unit.storage.fakes import FixedClock

from stratuslab.core.entities import Principal
from stratuslab.core.volumes import CreateVolume
from stratuslab.drivers import _process
from stratuslab.drivers.storage.volumes.iscsi import IscsiBackend
from stratuslab.drivers.storage.volumes.tgt import TgtConfig, TgtDaemon
from stratuslab.services.storage.memory import InMemoryStorageUnitOfWork
from stratuslab.services.storage.service import VolumeService

ALICE = Principal("alice", 1, groups=("physics",))
SECRET = b"HOST-ONLY-SECRET-" * 64


def test_clone_of_raw_volume_with_guest_written_qcow2_header_holds_only_volume_bytes(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "host-secret"
    secret.write_bytes(SECRET)
    # tgt is never started: creating and cloning raw volumes needs only qemu-img
    backend = IscsiBackend(tmp_path / "pool", TgtDaemon(TgtConfig(state_dir=str(tmp_path))))
    svc = VolumeService(InMemoryStorageUnitOfWork(), {"iscsi": backend}, clock=FixedClock(),
                        default_pool="iscsi")
    parent = svc.create(ALICE, CreateVolume(size_gb=1))
    assert parent.format == "raw"  # recorded at creation, passed to every tool from then on

    # what a guest can do: write a qcow2 header (backing file = a host path) into its disk
    header = tmp_path / "header.qcow2"
    _process.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(secret), "-F", "raw",
                  str(header)])
    written = header.read_bytes()
    with open(str(parent.location), "r+b") as disk:
        disk.write(written)

    child = svc.create(ALICE, CreateVolume(size_gb=1, parent_volume=parent.uuid))

    data = Path(str(child.location)).read_bytes()
    assert SECRET[:64] not in data
    assert data[: len(written)] == written  # the guest's bytes, copied as bytes
    assert data == Path(str(parent.location)).read_bytes()
