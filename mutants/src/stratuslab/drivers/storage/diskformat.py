"""What a disk file is, decided without letting QEMU guess: the safety check of every image the
cloud imports.

A qcow2 header can name other files — a backing file or an external data file — and QEMU opens
them with the server's rights.  An image that names the server's database as its backing file
would show that file to the guest.  So:

- the format comes from the first bytes, read here (`sniff`), never from QEMU's probing; formats
  other than qcow2 and raw (vmdk, vdi, vhd, vhdx, qed...) are refused, since several of them
  reference other files too;
- a qcow2 header is parsed here first (`qcow2_references`), so a hostile header is refused
  before any tool opens the file; then `qemu-img info -f <fmt>` confirms it (defence in depth);
- every qemu-img call anywhere in the drivers passes `-f`, so no header is ever probed.

Imports core and drivers._process only.
"""

from __future__ import annotations

import json
import os
import struct

from stratuslab.core.errors import DriverError, InvalidInput
from stratuslab.drivers import _process

QCOW2_MAGIC = b"QFI\xfb"
ALLOWED = ("qcow2", "raw")
#: first bytes of image formats that QEMU knows and this cloud refuses
_OTHER_MAGICS: tuple[tuple[int, bytes, str], ...] = (
    (0, b"KDMV", "vmdk"),
    (0, b"COWD", "vmdk"),
    (0, b"# Disk DescriptorFile", "vmdk"),
    (0, b"QFI\x00", "qed"),
    (0, b"conectix", "vpc"),
    (0, b"vhdxfile", "vhdx"),
    (64, b"\x7f\x10\xda\xbe", "vdi"),
    (0, b"WithoutFreeSpace", "parallels"),
    (0, b"WithouFreSpacExt", "parallels"),
    (0, b"cloop", "cloop"),
    (0, b"#!/bin/sh\n#V2.0 Format", "cloop"),
    (0, b"Bochs Virtual HD Image", "bochs"),
)
HEAD_BYTES = 512
_INCOMPAT_DATA_FILE = 1 << 2


def sniff(head: bytes) -> str:
    """`qcow2` or `raw` from the first bytes of a file; other QEMU formats raise InvalidInput."""
    if head.startswith(QCOW2_MAGIC):
        if len(head) >= 8 and struct.unpack(">I", head[4:8])[0] < 2:
            raise _refused("qcow (version 1)")
        return "qcow2"
    for offset, magic, fmt in _OTHER_MAGICS:
        if head[offset : offset + len(magic)] == magic:
            raise _refused(fmt)
    return "raw"


def _refused(fmt: str) -> InvalidInput:
    return InvalidInput(
        f"image format {fmt} is not accepted (only qcow2 and raw)",
        hint="convert it first: qemu-img convert -f <format> -O qcow2 in.img out.qcow2",
    )


def qcow2_references(head: bytes) -> list[str]:
    """What a qcow2 header points at outside the file: a backing file, an external data file.

    `head` must hold the header (the first 512 bytes are enough for every field read here)."""
    if len(head) < 72 or not head.startswith(QCOW2_MAGIC):
        raise InvalidInput("qcow2 header is truncated", hint="check the image file")
    version, backing_offset, backing_size = struct.unpack(">IQI", head[4:20])
    found = []
    if backing_offset or backing_size:
        found.append("a backing file")
    if version >= 3 and len(head) >= 80:
        incompatible = struct.unpack(">Q", head[72:80])[0]
        if incompatible & _INCOMPAT_DATA_FILE:
            found.append("an external data file")
    return found


def read_head(path: str | os.PathLike[str]) -> bytes:
    with open(path, "rb") as f:
        return f.read(HEAD_BYTES)


def check_image(
    path: str | os.PathLike[str], *, name: str, qemu_img: str = "qemu-img", timeout: float = 120.0
) -> str:
    """The format of the image file at `path`, after refusing anything that would make QEMU
    open another file (backing file, external data file) or that is not qcow2/raw."""
    fmt = sniff(read_head(path))
    if fmt == "qcow2":
        refs = qcow2_references(read_head(path))
        if refs:
            raise _names_files(name, refs)
    info = qemu_img_info(path, fmt, qemu_img=qemu_img, timeout=timeout)
    refs = info_references(info)
    if refs:
        raise _names_files(name, refs)
    if info.get("format") != fmt:
        raise InvalidInput(f"image {name}: qemu-img reads it as {info.get('format')!r}, not {fmt}")
    return fmt


def _names_files(name: str, refs: list[str]) -> InvalidInput:
    return InvalidInput(
        f"image {name} is a qcow2 file that names {' and '.join(refs)}; refused (the cloud "
        "never lets an image open another file)",
        hint="flatten it first: qemu-img convert -O qcow2 in.qcow2 out.qcow2",
    )


def qemu_img_info(
    path: str | os.PathLike[str], fmt: str, *, qemu_img: str = "qemu-img", timeout: float = 120.0
) -> dict[str, object]:
    """`qemu-img info --output=json -f <fmt>`: the format is given, never probed."""
    if fmt not in ALLOWED:
        raise InvalidInput(f"disk format {fmt!r} is not qcow2 or raw")
    out = _process.run(
        [qemu_img, "info", "--output=json", "-U", "-f", fmt, str(path)], timeout=timeout
    )
    try:
        data = json.loads(out.stdout)
    except ValueError as exc:
        raise DriverError(f"qemu-img info {path}: unreadable output") from exc
    if not isinstance(data, dict):
        raise DriverError(f"qemu-img info {path}: unexpected output")
    return data


def info_references(info: dict[str, object]) -> list[str]:
    found = []
    if info.get("backing-filename") or info.get("full-backing-filename"):
        found.append("a backing file")
    specific = info.get("format-specific")
    data = specific.get("data") if isinstance(specific, dict) else None
    if isinstance(data, dict) and data.get("data-file"):
        found.append("an external data file")
    return found
