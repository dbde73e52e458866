"""FileImageStore.import_flattened with the real qemu-img: a VM's overlay becomes one image."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratuslab.core.errors import DriverError, InvalidInput
from stratuslab.drivers._process import run
from stratuslab.drivers.storage.imagestore import FileImageStore

pytestmark = pytest.mark.integration


def test_overlay_is_flattened_into_a_standalone_qcow2_named_by_its_sha1(tmp_path: Path) -> None:
    base, overlay = tmp_path / "base.raw", tmp_path / "root.qcow2"
    base.write_bytes(b"B" * (1 << 20))
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "raw", str(overlay)])
    run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x4d 4096 4096", str(overlay)])
    store = FileImageStore(tmp_path / "images")

    saved = store.import_flattened(str(overlay), name="golden")

    assert saved.format == "qcow2" and Path(saved.path).name == f"{saved.sha1}.qcow2"
    info = run(["qemu-img", "info", "--output=json", saved.path]).stdout
    assert "backing-filename" not in info
    run(["qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", str(overlay), saved.path])
    assert [p.name for p in (tmp_path / "images").iterdir()] == [Path(saved.path).name]


def test_a_missing_or_unreadable_overlay_leaves_nothing_behind(tmp_path: Path) -> None:
    store = FileImageStore(tmp_path / "images")
    with pytest.raises(InvalidInput, match="not on this server"):
        store.import_flattened(str(tmp_path / "nope.qcow2"), name="x")
    (tmp_path / "junk.qcow2").write_bytes(b"QFI\xfb" + b"\0" * 100)
    with pytest.raises(DriverError):
        store.import_flattened(str(tmp_path / "junk.qcow2"), name="x")
    assert list((tmp_path / "images").iterdir()) == []
