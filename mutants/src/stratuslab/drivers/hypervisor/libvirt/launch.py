"""Entry point run by `ManagedLibvirtd` inside its private mount namespace: bind libvirt's system
paths to the daemon's own directories, then become libvirtd.  Not for use on its own.

Imports only the standard library and `drivers._process`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from stratuslab.drivers import _process
from stratuslab.drivers.hypervisor.libvirt.daemon import MOUNTS


def main(base: Path) -> None:
    for sub, target in MOUNTS:
        Path(target).mkdir(parents=True, exist_ok=True)  # a mount point; empty on a fresh host
        _process.run(["mount", "--bind", str(base / sub), target], timeout=10)
    for name in ("passwd", "group"):
        if (base / name).exists():
            _process.run(["mount", "--bind", str(base / name), f"/etc/{name}"], timeout=10)
    conf = str(base / "etc" / "libvirtd.conf")
    os.execvp("libvirtd", ["libvirtd", "-f", conf, "-p", str(base / "run" / "libvirtd.pid")])


if __name__ == "__main__":
    main(Path(sys.argv[1]))
