"""Debian packages for guest images: resolve versions, download and unpack them.

Uses the host's APT (``apt-cache``, ``apt-get download``) and ``dpkg-deb`` through
`stratuslab.drivers._process`; never installs anything on the host.  Imports core and _process.
"""

from __future__ import annotations

import glob
import os
import re

from stratuslab.core.errors import DriverError
from stratuslab.drivers import _process

_APT_TIMEOUT = 60.0
_DOWNLOAD_TIMEOUT = 600.0


def kernel_package(meta: str = "linux-image-amd64") -> str:
    """The versioned kernel package the meta package depends on (linux-image-<ver>-amd64)."""
    out = _process.run(["apt-cache", "depends", meta], timeout=_APT_TIMEOUT).stdout
    for line in out.splitlines():
        m = re.match(r"\s*Depends:\s*(linux-image-\S+)", line)
        if m:
            return m.group(1)
    raise DriverError(
        f"package {meta} names no linux-image package (apt-cache depends printed: {out.strip()!r})",
        hint="run apt-get update so APT knows the current kernel",
    )


def candidate_version(package: str) -> str:
    """The version `apt-get download` would fetch."""
    out = _process.run(["apt-cache", "policy", package], timeout=_APT_TIMEOUT).stdout
    m = re.search(r"^\s*Candidate:\s*(\S+)", out, re.MULTILINE)
    if not m or m.group(1) == "(none)":
        raise DriverError(
            f"package {package} has no installable version",
            hint="run apt-get update, or check the APT sources of this host",
        )
    return m.group(1)


def kernel_release(package: str) -> str:
    """'linux-image-6.1.0-56-amd64' -> '6.1.0-56-amd64' (the /lib/modules directory name)."""
    return package.removeprefix("linux-image-")


def download(package: str, version: str, dest_dir: str) -> str:
    """The .deb of `package`=`version` in `dest_dir`, downloaded unless already there."""
    os.makedirs(dest_dir, exist_ok=True)
    quoted = version.replace(":", "%3a")
    pattern = os.path.join(dest_dir, f"{package}_{quoted}_*.deb")
    found = sorted(glob.glob(pattern))
    if not found:
        _process.run(
            ["apt-get", "download", "-q", f"{package}={version}"],
            timeout=_DOWNLOAD_TIMEOUT,
            cwd=dest_dir,
        )
        found = sorted(glob.glob(pattern))
    if not found:
        raise DriverError(
            f"apt-get download {package}={version} left no {pattern}",
            hint="check the APT sources and network of this host",
        )
    return found[0]


def unpack(deb: str, dest_dir: str) -> None:
    _process.run(["dpkg-deb", "-x", deb, dest_dir], timeout=_DOWNLOAD_TIMEOUT)
