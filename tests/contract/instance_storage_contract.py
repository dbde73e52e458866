"""The contract every instance-storage driver passes (core.instance.InstanceStoragePort),
mixed into one test class per driver.

A driver's test module subclasses `InstanceStorageContract` and provides a `storage` fixture:
a driver made as the registry makes it, `cls(instances_dir, quarantine_dir)`.  The class is
not collected on its own (its name does not start with Test).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stratuslab.core.errors import NotFound
from stratuslab.core.instance import InstanceStoragePort, PrologRequest


def request(tmp_path: Path, vm_id: int) -> PrologRequest:
    image = tmp_path / "base.img"
    if not image.exists():
        image.write_bytes(b"\0" * 1024 * 1024)
    return PrologRequest(vm_id=vm_id, name=f"vm{vm_id}", image_path=str(image),
                         image_format="raw")


class InstanceStorageContract:
    def test_prepare_makes_an_instance_directory_with_a_root_disk(
        self, storage: InstanceStoragePort, tmp_path: Path
    ) -> None:
        prepared = storage.prepare(request(tmp_path, 7))
        assert Path(prepared.instance_dir).is_dir()
        assert [d.name for d in prepared.disks][:1] == ["root"]

    def test_prepare_again_is_harmless(self, storage: InstanceStoragePort,
                                       tmp_path: Path) -> None:
        first = storage.prepare(request(tmp_path, 8))
        again = storage.prepare(request(tmp_path, 8))
        assert again.instance_dir == first.instance_dir
        assert [d.name for d in again.disks] == [d.name for d in first.disks]

    def test_release_into_quarantine_lists_it_with_its_owner_until_purged(
        self, storage: InstanceStoragePort, tmp_path: Path
    ) -> None:
        prepared = storage.prepare(request(tmp_path, 9))
        storage.release(9, owner="alice", quarantine=True)
        assert not Path(prepared.instance_dir).exists()
        [entry] = [e for e in storage.quarantined() if e.vm_id == 9]
        assert entry.owner == "alice" and Path(entry.path).is_dir()
        storage.purge(9)
        assert [e for e in storage.quarantined() if e.vm_id == 9] == []
        assert not Path(entry.path).exists()

    def test_release_without_quarantine_removes_the_directory(
        self, storage: InstanceStoragePort, tmp_path: Path
    ) -> None:
        prepared = storage.prepare(request(tmp_path, 10))
        storage.release(10, owner="alice", quarantine=False)
        assert not Path(prepared.instance_dir).exists()
        assert [e for e in storage.quarantined() if e.vm_id == 10] == []

    def test_release_of_an_unknown_vm_is_a_no_op_and_its_purge_is_not_found(
        self, storage: InstanceStoragePort
    ) -> None:
        storage.release(404, owner="nobody", quarantine=True)
        storage.release(404, owner="nobody", quarantine=False)
        assert [e for e in storage.quarantined() if e.vm_id == 404] == []
        with pytest.raises(NotFound, match="quarantined VM 404"):
            storage.purge(404)
