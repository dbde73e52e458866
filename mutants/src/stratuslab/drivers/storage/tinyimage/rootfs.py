"""The file tree of the tiny guest: busybox, the guest scripts, kernel modules.

Imports core and `_process` (to ask busybox for its applet list); no network, no root needed.
"""

from __future__ import annotations

import gzip
import lzma
import os
import shutil
from importlib import resources

from stratuslab.drivers import _process

#: package data file -> path inside the guest, mode
GUEST_FILES: tuple[tuple[str, str, int], ...] = (
    ("guest-init.sh", "init", 0o755),
    ("guest-rc.sh", "etc/stratuslab/rc.sh", 0o755),
    ("guest-agent.sh", "etc/stratuslab/agent.sh", 0o755),
    ("guest-udhcpc.sh", "etc/stratuslab/udhcpc.sh", 0o755),
    ("guest-parse.awk", "etc/stratuslab/parse.awk", 0o644),
)

_INITTAB = """\
::sysinit:/etc/stratuslab/rc.sh
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/sync
::shutdown:/bin/umount -a -r
"""

#: busybox init's own poweroff sleeps about 2 s between its signals; a guest with nothing to stop
#: but a shell can flush, go read-only and power off at once
_POWER_BUTTON = """\
#!/bin/sh
# ACPI power button (QMP system_powerdown): flush, make the file systems read-only, power off.
sync
umount -a -r 2>/dev/null
mount -o remount,ro / 2>/dev/null
exec poweroff -f
"""

_DIRS = ("bin", "sbin", "usr/bin", "usr/sbin", "etc/stratuslab", "etc/acpi/PWRF", "proc", "sys",
         "dev", "run", "tmp", "root", "newroot", "var/log", "lib/modules")


def guest_file_bytes() -> dict[str, bytes]:
    """The guest scripts shipped as package data, by package file name (part of the cache key)."""
    pkg = resources.files(__package__)
    return {src: (pkg / src).read_bytes() for src, _, _ in GUEST_FILES}


def _write(root: str, rel: str, data: bytes, mode: int) -> None:
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def install_busybox(root: str, busybox: str) -> None:
    """Copy the static busybox to /bin/busybox and link every applet to it."""
    shutil.copyfile(busybox, os.path.join(root, "bin/busybox"))
    os.chmod(os.path.join(root, "bin/busybox"), 0o755)
    listing = _process.run([busybox, "--list-full"], timeout=30).stdout
    for rel in sorted(set(listing.split())):
        link = os.path.join(root, rel)
        if rel == "bin/busybox" or os.path.lexists(link):
            continue
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(os.path.relpath(os.path.join(root, "bin/busybox"), os.path.dirname(link)), link)


def install_guest_files(root: str) -> None:
    for d in _DIRS:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    for src, dest, mode in GUEST_FILES:
        _write(root, dest, guest_file_bytes()[src], mode)
    _write(root, "etc/inittab", _INITTAB.encode(), 0o644)
    _write(root, "etc/acpi/PWRF/00000080", _POWER_BUTTON.encode(), 0o755)
    _write(root, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644)
    _write(root, "etc/shadow", b"root:*:19000:0:99999:7:::\n", 0o600)
    _write(root, "etc/group", b"root:x:0:\n", 0o644)
    _write(root, "etc/hostname", b"stratuslab\n", 0o644)
    os.chmod(os.path.join(root, "root"), 0o700)
    os.chmod(os.path.join(root, "tmp"), 0o1777)


def install_modules(root: str, modules_dir: str, release: str, files: list[str]) -> None:
    """Copy module `files` (relative to modules_dir), decompressed, and list them in load order."""
    dest_base = os.path.join(root, "lib/modules", release)
    order: list[str] = []
    for rel in files:
        src = os.path.join(modules_dir, rel)
        plain = rel
        with open(src, "rb") as f:
            data = f.read()
        if rel.endswith(".xz"):
            data, plain = lzma.decompress(data), rel[: -len(".xz")]
        elif rel.endswith(".gz"):
            data, plain = gzip.decompress(data), rel[: -len(".gz")]
        elif rel.endswith(".zst"):
            plain = rel[: -len(".zst")]
            out = os.path.join(dest_base, plain)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            _process.run(["zstd", "-q", "-d", "-f", "-o", out, src], timeout=60)
            order.append(f"{release}/{plain}")
            continue
        _write(dest_base, plain, data, 0o644)
        order.append(f"{release}/{plain}")
    _write(root, "lib/modules/load.list", ("\n".join(order) + "\n").encode(), 0o644)


def fix_times(root: str, mtime: int) -> None:
    """One mtime everywhere, so file systems made from the tree do not depend on build time."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (mtime, mtime), follow_symlinks=False)
    os.utime(root, (mtime, mtime))
