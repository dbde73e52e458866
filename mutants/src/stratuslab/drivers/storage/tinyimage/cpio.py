"""A reproducible initramfs: a directory tree as a gzip-compressed cpio ``newc`` archive.

Entries are sorted, owned by root, with one fixed mtime and sequential inode numbers, and the
gzip header carries no time stamp, so the same tree always gives the same bytes.  Only the
standard library.
"""

from __future__ import annotations

import gzip
import os
import stat

_TRAILER = "TRAILER!!!"


def _pad(n: int) -> bytes:
    return b"\0" * ((4 - n % 4) % 4)


def _entry(out: gzip.GzipFile, name: str, *, ino: int, mode: int, data: bytes, mtime: int) -> None:
    encoded = name.encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(mode) else 1
    fields = (ino, mode, 0, 0, nlink, mtime, len(data), 0, 0, 0, 0, len(encoded), 0)
    header = b"070701" + b"".join(b"%08X" % f for f in fields)
    out.write(header + encoded + _pad(len(header) + len(encoded)))
    out.write(data + _pad(len(data)))


def _walk(root: str) -> list[str]:
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for name in dirnames + filenames:
            found.append(os.path.normpath(os.path.join(rel, name)))
    return sorted(found)


def write_initramfs(root: str, dest: str, *, mtime: int = 0) -> None:
    """Pack every file, directory and symlink under `root` into `dest` (cpio newc + gzip)."""
    with open(dest, "wb") as raw, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0
    ) as out:
        ino = 1
        for rel in _walk(root):
            path = os.path.join(root, rel)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                data = os.readlink(path).encode()
                mode = stat.S_IFLNK | 0o777
            elif stat.S_ISDIR(st.st_mode):
                data, mode = b"", stat.S_IFDIR | (st.st_mode & 0o7777)
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    data = f.read()
                mode = stat.S_IFREG | (st.st_mode & 0o7777)
            else:
                continue  # device nodes come from devtmpfs in the guest
            _entry(out, rel, ino=ino, mode=mode, data=data, mtime=mtime)
            ino += 1
        _entry(out, _TRAILER, ino=0, mode=0, data=b"", mtime=0)
