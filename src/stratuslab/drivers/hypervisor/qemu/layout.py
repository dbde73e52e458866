"""Where the QEMU driver keeps what it knows: the instance directory and the run-dir index.

Each VM owns one instance directory (given by the caller in `VmSpec.instance_dir`) holding the
QMP sockets, the console log, QEMU's pid file and stderr log, the saved memory state of a
suspended VM and `driver.json`, the driver's own small record of the VM.  The driver's `run_dir`
keeps one index file per VM pointing at its instance directory, so that a new driver instance
(after a server or node restart) finds running and suspended VMs again.

A pid is only believed when `/proc/<pid>` still shows a QEMU process whose working directory is
the VM's instance directory (QEMU runs there), so a recycled pid is never mistaken for the VM.

Imports only the standard library and `core`.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# QEMU runs with the instance directory as its working directory and is given these relative
# names, which keeps every unix socket path short whatever the directory's length.
QMP_SOCK = "qmp.sock"
EVENTS_SOCK = "events.sock"
CONSOLE_SOCK = "console.sock"
AGENT_SOCK = "agent.sock"
CONSOLE_LOG = "console.log"
PID_FILE = "qemu.pid"
STDERR_LOG = "qemu.log"
STATE_FILE = "saved-state.bin"
RECORD = "driver.json"

# Driver states kept in driver.json (finer than ObservedState: they record our intent too).
STARTING = "starting"  # recorded before QEMU is spawned: a restart adopts or forgets it
RUNNING = "running"
STOPPING = "stopping"  # we are stopping it: its exit is expected and not an event
SUSPENDING = "suspending"
SUSPENDED = "suspended"
RESUMING = "resuming"  # a QEMU is loading the saved state; not yet the guest's own
SHUTOFF = "shutoff"
CRASHED = "crashed"


@dataclass(frozen=True, slots=True)
class InstanceDir:
    path: Path

    def file(self, name: str) -> Path:
        return self.path / name

    def read_record(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.file(RECORD).read_text())
        except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
            return None
        return data

    def write_record(self, record: dict[str, Any]) -> None:
        tmp = self.file(RECORD + ".tmp")
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
        tmp.replace(self.file(RECORD))

    def update_record(self, **changes: Any) -> dict[str, Any]:
        record = self.read_record() or {}
        record.update(changes)
        self.write_record(record)
        return record

    def remove_runtime_files(self) -> None:
        """Sockets and pid file of a QEMU that is gone (the logs stay for the console)."""
        for name in (QMP_SOCK, EVENTS_SOCK, CONSOLE_SOCK, AGENT_SOCK, PID_FILE):
            self.file(name).unlink(missing_ok=True)


class RunIndex:
    """run_dir/vms/<vm_id>.json -> the VM's instance directory."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir / "vms"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def _path(self, vm_id: int) -> Path:
        return self.dir / f"{vm_id}.json"

    def register(self, vm_id: int, instance_dir: Path) -> None:
        with self._lock:
            tmp = self._path(vm_id).with_suffix(".tmp")
            tmp.write_text(json.dumps({"vm_id": vm_id, "instance_dir": str(instance_dir)}))
            tmp.replace(self._path(vm_id))

    def forget(self, vm_id: int) -> None:
        with self._lock:
            self._path(vm_id).unlink(missing_ok=True)

    def lookup(self, vm_id: int) -> InstanceDir | None:
        try:
            data = json.loads(self._path(vm_id).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return InstanceDir(Path(data["instance_dir"]))

    def vm_ids(self) -> list[int]:
        ids = []
        for path in self.dir.glob("*.json"):
            if path.stem.isdigit():
                ids.append(int(path.stem))
        return sorted(ids)


def qemu_pid_alive(pid: int | None, instance_dir: Path) -> bool:
    """True when `pid` is a live QEMU running in `instance_dir` (not a recycled pid)."""
    if not pid or pid <= 0:
        return False
    proc = Path(f"/proc/{pid}")
    try:
        stat = (proc / "stat").read_text()
        cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        cwd = os.readlink(proc / "cwd")
    except (FileNotFoundError, ProcessLookupError, PermissionError, OSError):
        return False
    # a zombie (state Z) has exited; the field after the command name in parentheses is the state
    if stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]:
        return False
    is_qemu = any(os.path.basename(arg).startswith(b"qemu-system") for arg in cmdline[:8])
    return is_qemu and os.path.realpath(cwd) == os.path.realpath(instance_dir)


def read_pid(instance: InstanceDir) -> int | None:
    try:
        return int(instance.file(PID_FILE).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
