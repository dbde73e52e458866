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


def _stanzas(text: str) -> dict[str, dict[str, str]]:
    """`apt-cache show` output -> {package: {field: value}} (first stanza of each package)."""
    found: dict[str, dict[str, str]] = {}
    for block in text.split("\n\n"):
        fields = dict(
            (m.group(1), m.group(2).strip())
            for m in re.finditer(r"^([A-Za-z-]+):(.*)$", block, re.MULTILINE)
        )
        if "Package" in fields:
            found.setdefault(fields["Package"], fields)
    return found


def resolve(kernel_meta: str, others: tuple[str, ...]) -> dict[str, str]:
    """Candidate versions in one APT query: the versioned kernel package the meta package pins
    (under the key "kernel", its name under "kernel-package") and each of `others`."""
    out = _process.run(
        ["apt-cache", "show", "--no-all-versions", kernel_meta, *others], timeout=_APT_TIMEOUT
    ).stdout
    stanzas = _stanzas(out)
    missing = [p for p in (kernel_meta, *others) if p not in stanzas]
    if missing:
        raise DriverError(
            f"APT knows no package {', '.join(missing)}",
            hint="run apt-get update, or check the APT sources of this host",
        )
    m = re.search(r"(linux-image-[^\s,(]+)\s*(?:\(=\s*([^)\s]+)\))?",
                  stanzas[kernel_meta].get("Depends", ""))
    if not m:
        raise DriverError(
            f"package {kernel_meta} depends on no linux-image package",
            hint="run apt-get update so APT knows the current kernel",
        )
    versions = {p: stanzas[p]["Version"] for p in others}
    versions["kernel-package"] = m.group(1)
    versions["kernel"] = m.group(2) or candidate_version(m.group(1))
    return versions


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
