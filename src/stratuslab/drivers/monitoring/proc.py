"""The `proc` monitoring driver: this host's capacity and load from the kernel (/proc).

Imports only the standard library and `core`.
"""

from __future__ import annotations

import os
from pathlib import Path

from stratuslab.core.stats import HostCapacity


def _meminfo(root: Path) -> dict[str, int]:
    out = {}
    for line in (root / "meminfo").read_text().splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key] = int(parts[0])  # kB
    return out


def host_capacity(proc: str | os.PathLike[str] = "/proc") -> HostCapacity:
    root = Path(proc)
    mem = _meminfo(root)
    load1 = float((root / "loadavg").read_text().split()[0])
    return HostCapacity(cpus=os.cpu_count() or 1, memory_mib=mem.get("MemTotal", 0) // 1024,
                        load1=load1, memory_available_mib=mem.get("MemAvailable", 0) // 1024)
