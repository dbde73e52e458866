"""Files of an instance directory made by external tools: qcow2 overlays and disks, swap, ISOs.

Every command goes through `stratuslab.drivers._process` with a timeout.  Imports core and
_process only.
"""

from __future__ import annotations

import os
import shutil

from stratuslab.core.errors import DriverError
from stratuslab.drivers import _process

_TIMEOUT = 120.0


def overlay(base: str, base_format: str, dest: str) -> None:
    """A qcow2 overlay backed by `base` (copy-on-write; time independent of the base size)."""
    _process.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", os.path.abspath(base),
         "-F", base_format, dest],
        timeout=_TIMEOUT,
    )


def blank_qcow2(dest: str, size_gb: int) -> None:
    _process.run(["qemu-img", "create", "-q", "-f", "qcow2", dest, f"{size_gb}G"], timeout=_TIMEOUT)


def swap_file(dest: str, size_mib: int) -> None:
    """A sparse raw file formatted as Linux swap."""
    with open(dest, "wb") as f:
        f.truncate(size_mib * 1024 * 1024)
    _process.run(["mkswap", "-L", "swap", dest], timeout=_TIMEOUT)


def iso(source_dir: str, label: str, dest: str) -> None:
    """An ISO 9660 image (Rock Ridge + Joliet) of `source_dir` with volume label `label`."""
    if shutil.which("genisoimage"):
        argv = ["genisoimage", "-quiet", "-o", dest, "-V", label, "-J", "-r", source_dir]
    elif shutil.which("xorriso"):
        argv = ["xorriso", "-as", "mkisofs", "-quiet", "-o", dest, "-V", label, "-J", "-r",
                source_dir]
    else:
        raise DriverError(
            f"cannot make the {label} context ISO: neither genisoimage nor xorriso is installed",
            hint="install one of them (scripts/setup.sh does)",
        )
    _process.run(argv, timeout=_TIMEOUT)
