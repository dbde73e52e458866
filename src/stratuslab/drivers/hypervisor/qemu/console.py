"""The VM's serial console log, bounded: a guest that prints without end must not fill the
node's disk.

QEMU appends to `console.log` itself (`logfile=…,logappend=on`, so every write goes to the end
of the file).  The VM's watcher calls `trim` every second: past `max_bytes`, the newest half is
kept in `console.log.1` (written aside, then renamed over the old one) and `console.log` is
truncated in place — QEMU's next append lands at the new, empty end.  So the two files hold at
most about `max_bytes` plus what the guest printed in one second, and `read` gives the newest
output in order.  Only the standard library and `layout`.
"""

from __future__ import annotations

import os
from pathlib import Path

from stratuslab.drivers.hypervisor.qemu import layout

DEFAULT_MAX_BYTES = 1024 * 1024
INTERVAL_S = 1.0


def previous(log: Path) -> Path:
    return log.with_name(log.name + ".1")


def trim(log: Path, max_bytes: int) -> bool:
    """Rotate `log` if it grew past `max_bytes`; True when it did."""
    try:
        size = log.stat().st_size
    except FileNotFoundError:
        return False
    if size <= max_bytes:
        return False
    keep = max(1, max_bytes // 2)
    with open(log, "rb") as f:
        f.seek(max(0, size - keep))
        tail = f.read(keep)
    part = log.with_name(log.name + ".1.part")
    part.write_bytes(tail)
    os.replace(part, previous(log))
    os.truncate(log, 0)  # QEMU appends (O_APPEND): its next write starts the file again
    return True


def read(instance: layout.InstanceDir) -> bytes:
    """The kept console output, oldest first (the rotated half, then the current file)."""
    log = instance.file(layout.CONSOLE_LOG)
    out = b""
    for path in (previous(log), log):
        try:
            out += path.read_bytes()
        except FileNotFoundError:
            pass
    return out
