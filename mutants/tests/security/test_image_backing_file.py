"""Attack: register an image whose qcow2 header names a host file (a backing file such as the
server's database, or an external data file), so that the VM's disk shows that file to the guest.

The image store reads the format from the file's own first bytes, refuses any qcow2 that names
another file and any format but qcow2/raw, and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratuslab.bootstrap import Cloud
from stratuslab.core.entities import Principal
from stratuslab.core.errors import InvalidInput
from stratuslab.drivers import _process
from stratuslab.drivers.storage.diskformat import sniff


def _secret(tmp_path: Path) -> Path:
    secret = tmp_path / "server-secret.db"
    secret.write_bytes(b"TOP-SECRET-DATABASE" * 1000)
    return secret


def _image_files(cloud: Cloud) -> list[Path]:
    return sorted(p for p in Path(cloud.settings.data_dir).rglob("*") if p.is_file() and (
        p.suffix in (".qcow2", ".raw") or p.name.startswith(".import-")))


def test_image_with_backing_file_naming_a_host_file_is_refused(
    cloud: Cloud, admin: Principal, tmp_path: Path
) -> None:
    hostile = tmp_path / "hostile.qcow2"
    _process.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(_secret(tmp_path)),
                  "-F", "raw", str(hostile)])
    before = _image_files(cloud)
    with pytest.raises(InvalidInput, match="names a backing file; refused"):
        cloud.images.register(admin, "hostile", str(hostile))
    assert _image_files(cloud) == before
    assert cloud.images.list(admin) == []


def test_image_with_external_data_file_is_refused(
    cloud: Cloud, admin: Principal, tmp_path: Path
) -> None:
    hostile = tmp_path / "datafile.qcow2"
    _process.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o",
                  f"data_file={_secret(tmp_path)},data_file_raw=on", str(hostile), "1M"])
    with pytest.raises(InvalidInput, match="names an external data file"):
        cloud.images.register(admin, "hostile", str(hostile))
    assert cloud.images.list(admin) == []


def test_image_in_another_qemu_format_is_refused(
    cloud: Cloud, admin: Principal, tmp_path: Path
) -> None:
    vmdk = tmp_path / "disk.vmdk"
    _process.run(["qemu-img", "create", "-q", "-f", "vmdk", str(vmdk), "1M"])
    with pytest.raises(InvalidInput, match="format vmdk is not accepted"):
        cloud.images.register(admin, "vmdk", str(vmdk))


def test_plain_qcow2_and_raw_images_are_accepted(
    cloud: Cloud, admin: Principal, tmp_path: Path
) -> None:
    plain = tmp_path / "plain.qcow2"
    _process.run(["qemu-img", "create", "-q", "-f", "qcow2", str(plain), "1M"])
    raw = tmp_path / "plain.raw"
    raw.write_bytes(b"\x00" * 4096)
    assert cloud.images.register(admin, "q", str(plain)).format == "qcow2"
    assert cloud.images.register(admin, "r", str(raw)).format == "raw"


def test_format_comes_from_magic_bytes_never_from_probing() -> None:
    assert sniff(b"QFI\xfb\x00\x00\x00\x03") == "qcow2"
    assert sniff(b"\xeb\x63\x90" + b"\x00" * 500) == "raw"
    for head in (b"QFI\x00rest", b"KDMV....", b"conectix", b"vhdxfile"):
        with pytest.raises(InvalidInput, match="only qcow2 and raw"):
            sniff(head)
