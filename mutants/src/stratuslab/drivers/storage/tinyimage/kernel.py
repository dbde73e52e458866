"""The uncompressed ``vmlinux`` inside a Debian ``vmlinuz`` (bzImage).

Under TCG the kernel's own XZ decompressor costs seconds at every boot; QEMU boots the ELF
``vmlinux`` directly through its PVH entry point, so we decompress once at build time, the way
the kernel's ``scripts/extract-vmlinux`` does: find a compressed stream whose output is an ELF
file.  Only the standard library and core.
"""

from __future__ import annotations

import gzip
import lzma
import zlib

from stratuslab.core.errors import DriverError

_XZ_MAGIC = b"\xfd7zXZ\x00"
_GZIP_MAGIC = b"\x1f\x8b\x08"
_ELF_MAGIC = b"\x7fELF"


def _try_xz(blob: bytes, at: int) -> bytes | None:
    try:
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(blob[at:])
    except lzma.LZMAError:
        return None


def _try_gzip(blob: bytes, at: int) -> bytes | None:
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(blob[at:])
    except (zlib.error, gzip.BadGzipFile):
        return None


def extract_vmlinux(bzimage: bytes, *, name: str = "vmlinuz") -> bytes:
    """The ELF kernel compressed inside `bzimage` (XZ or gzip payloads)."""
    for magic, attempt in ((_XZ_MAGIC, _try_xz), (_GZIP_MAGIC, _try_gzip)):
        at = bzimage.find(magic)
        while at != -1:
            out = attempt(bzimage, at)
            if out and out.startswith(_ELF_MAGIC):
                return out
            at = bzimage.find(magic, at + 1)
    raise DriverError(
        f"kernel {name} holds no XZ or gzip compressed ELF image",
        hint="set the recipe's kernel_format to 'bzimage' to boot it as it is",
    )
