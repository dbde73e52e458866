"""Pieces of the tiny image builder that need no packages: module resolution, the initramfs."""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path

import pytest

from stratuslab.core.errors import DriverError
from stratuslab.drivers.storage.tinyimage import cpio, debian, kernel, modules

DEP = """\
kernel/fs/ext4/ext4.ko.xz: kernel/lib/crc16.ko.xz kernel/fs/mbcache.ko.xz kernel/fs/jbd2/jbd2.ko.xz
kernel/lib/crc16.ko.xz:
kernel/fs/mbcache.ko.xz:
kernel/fs/jbd2/jbd2.ko.xz:
kernel/crypto/crc32c_generic.ko.xz:
kernel/arch/x86/crypto/crc32c-intel.ko.xz:
kernel/drivers/block/virtio_blk.ko.xz: kernel/drivers/virtio/virtio.ko.xz
kernel/drivers/virtio/virtio.ko.xz:
"""
ALIAS = "alias crypto-crc32c crc32c_intel\nalias crypto-crc32c crc32c_generic\n"
SOFTDEP = "softdep ext4 pre: crypto-crc32c\n"
BUILTIN = "kernel/drivers/acpi/button.ko\n"


def index() -> modules.ModuleIndex:
    return modules.ModuleIndex.parse(DEP, ALIAS, SOFTDEP, BUILTIN)


def test_modules_come_after_their_dependencies_and_soft_dependencies() -> None:
    order = modules.resolve(index(), ["ext4", "virtio_blk"])
    names = [modules.module_name(p) for p in order]
    assert names.index("crc32c_intel") < names.index("ext4")
    assert names.index("crc32c_generic") < names.index("ext4")
    assert names.index("jbd2") < names.index("ext4")
    assert names[-2:] == ["virtio", "virtio_blk"]
    assert len(order) == len(set(order))


def test_builtin_modules_are_skipped_and_unknown_ones_refused() -> None:
    assert modules.resolve(index(), ["button"]) == []
    with pytest.raises(DriverError, match="kernel module nosuch"):
        modules.resolve(index(), ["nosuch"])


def test_initramfs_is_byte_for_byte_reproducible(tmp_path: Path) -> None:
    tree = tmp_path / "root"
    (tree / "bin").mkdir(parents=True)
    (tree / "init").write_text("#!/bin/sh\n")
    (tree / "bin" / "sh").symlink_to("busybox")
    cpio.write_initramfs(str(tree), str(tmp_path / "a.img"), mtime=7)
    (tree / "init").touch()  # a new mtime must not change the archive
    cpio.write_initramfs(str(tree), str(tmp_path / "b.img"), mtime=7)
    a = (tmp_path / "a.img").read_bytes()
    assert a == (tmp_path / "b.img").read_bytes()
    raw = gzip.decompress(a)
    assert raw.startswith(b"070701") and b"TRAILER!!!" in raw
    assert raw.index(b"bin\0") < raw.index(b"bin/sh\0") < raw.index(b"init\0")


def test_vmlinux_is_found_inside_a_compressed_kernel() -> None:
    elf = b"\x7fELF" + bytes(range(256)) * 64
    bzimage = b"MZ setup code" + lzma.compress(elf, format=lzma.FORMAT_XZ) + b"\0trailer"
    assert kernel.extract_vmlinux(bzimage) == elf
    with pytest.raises(DriverError, match="no XZ or gzip"):
        kernel.extract_vmlinux(b"MZ nothing here")


def test_apt_show_stanzas_give_versions_and_the_pinned_kernel() -> None:
    text = (
        "Package: linux-image-amd64\nVersion: 6.1.192-2\n"
        "Depends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)\nDescription: x\n more\n\n"
        "Package: busybox-static\nVersion: 1:1.35.0-4\n\n"
    )
    stanzas = debian._stanzas(text)
    assert stanzas["busybox-static"]["Version"] == "1:1.35.0-4"
    assert stanzas["linux-image-amd64"]["Depends"].startswith("linux-image-6.1.0-56-amd64")
