"""FileInstanceStorage with the real tools (qemu-img, mkswap, genisoimage): overlays, swap,
volatile disks, context media, quarantine."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from stratuslab.core.errors import DriverError, InvalidInput, NotFound
from stratuslab.core.instance import ContextSpec, PrologRequest
from stratuslab.drivers import _process
from stratuslab.drivers.storage.instance import FileInstanceStorage

pytestmark = pytest.mark.integration


@pytest.fixture
def base(tmp_path: Path) -> str:
    path = str(tmp_path / "base.qcow2")
    _process.run(["qemu-img", "create", "-q", "-f", "qcow2", path, "10G"], timeout=30)
    return path


@pytest.fixture
def storage(tmp_path: Path) -> FileInstanceStorage:
    return FileInstanceStorage(str(tmp_path / "instances"), str(tmp_path / "quarantine"),
                               clock=lambda: 1000.0)


def req(base: str, vm_id: int = 5, **kw: object) -> PrologRequest:
    ctx = ContextSpec(instance_id=f"vm-{vm_id}", hostname="web", ssh_keys=("ssh-rsa AAA k",),
                      networks=({"mac": "52:54:00:00:00:05", "ip": "10.0.0.5"},))
    fields: dict[str, object] = {"context": ctx}
    fields.update(kw)
    return PrologRequest(vm_id=vm_id, name="web", image_path=base, image_format="qcow2",
                         **fields)  # type: ignore[arg-type]


def qemu_info(path: str) -> dict[str, object]:
    out = _process.run(["qemu-img", "info", "--output=json", path], timeout=30).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def iso_files(path: str) -> str:
    return _process.run(["isoinfo", "-i", path, "-J", "-f"], timeout=30).stdout


def test_prepare_makes_overlay_swap_volatile_disks_and_seed(
    storage: FileInstanceStorage, base: str
) -> None:
    prepared = storage.prepare(req(base, swap_mib=8, volatile_gb=(1, 3)))
    names = [d.name for d in prepared.disks]
    assert names == ["root", "swap", "volatile-1", "volatile-2", "context"]
    root, swap, vol1, vol2, seed = prepared.disks
    info = qemu_info(root.source)
    assert info["backing-filename"] == base and info["virtual-size"] == 10 * 1024**3
    assert os.path.getsize(root.source) < 1024 * 1024  # an overlay, not a copy
    assert Path(swap.source).read_bytes()[4086:4096] == b"SWAPSPACE2"
    assert qemu_info(vol2.source)["virtual-size"] == 3 * 1024**3
    assert (seed.kind, seed.readonly, seed.format) == ("cdrom", True, "raw")
    assert sorted(iso_files(seed.source).split()) == ["/meta-data", "/network-config", "/user-data"]
    definition = json.loads((Path(prepared.instance_dir) / "definition.json").read_text())
    assert definition["request"]["vm_id"] == 5


def test_context_method_one_adds_the_context_cd(storage: FileInstanceStorage, base: str) -> None:
    ctx = ContextSpec(instance_id="vm-6", hostname="h", method="one", extra={"x": "$(y)"})
    prepared = storage.prepare(req(base, vm_id=6, context=ctx))
    one = prepared.disks[-1]
    assert one.name == "context-one" and one.kind == "cdrom"
    assert iso_files(one.source).split() == ["/context.sh"]
    label = _process.run(["isoinfo", "-d", "-i", one.source], timeout=30).stdout
    assert "Volume id: CONTEXT" in label


def test_prepare_of_a_missing_image_fails_and_leaves_nothing(
    storage: FileInstanceStorage, tmp_path: Path
) -> None:
    with pytest.raises(DriverError, match="VM 5: base image file .*nope.qcow2 does not exist"):
        storage.prepare(req(str(tmp_path / "nope.qcow2")))
    assert not os.path.exists(storage.instance_dir(5))


@pytest.mark.parametrize("size", [0, 10**6])
def test_volatile_disk_sizes_out_of_range_are_refused(
    storage: FileInstanceStorage, base: str, size: int
) -> None:
    with pytest.raises(InvalidInput, match=f"volatile disk of {size} GB is out of range"):
        storage.prepare(req(base, volatile_gb=(size,)))
    assert not os.path.exists(storage.instance_dir(5))


def test_prepare_again_returns_the_prepared_instance(storage: FileInstanceStorage, base: str) -> None:
    first = storage.prepare(req(base))
    assert storage.prepare(req(base)) == first


def test_release_quarantines_the_directory_for_admins_only(
    storage: FileInstanceStorage, base: str
) -> None:
    prepared = storage.prepare(req(base))
    storage.release(5, owner="alice", quarantine=True)
    storage.release(5, owner="alice", quarantine=True)  # idempotent
    assert not os.path.exists(prepared.instance_dir)
    [entry] = storage.quarantined()
    assert (entry.vm_id, entry.owner, entry.quarantined_at) == (5, "alice", 1000.0)
    assert stat.S_IMODE(os.stat(entry.path).st_mode) == 0o700
    assert (Path(entry.path) / "root.qcow2").exists() and entry.size_bytes > 0
    storage.purge(5)
    assert storage.quarantined() == []
    with pytest.raises(NotFound, match="quarantined VM 5 does not exist"):
        storage.purge(5)


def test_release_without_quarantine_deletes(storage: FileInstanceStorage, base: str) -> None:
    prepared = storage.prepare(req(base))
    storage.release(5, owner="alice", quarantine=False)
    assert not os.path.exists(prepared.instance_dir) and storage.quarantined() == []
