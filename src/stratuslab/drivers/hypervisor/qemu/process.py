"""Starting and stopping one QEMU process: spawn, wait until QMP answers, stop by steps, reap.

A start that fails (QEMU exits during start-up, or never answers) kills what it spawned, removes
its sockets and raises `DriverError` carrying QEMU's own stderr.  A stop goes from the gentlest
request to SIGKILL, each step bounded in time, and only ever signals a pid that `/proc` still
shows as this VM's QEMU.

Imports only the standard library, `core`, `drivers._process` and the driver's own modules.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Sequence
from pathlib import Path

from stratuslab.core.errors import DriverError
from stratuslab.drivers import _process
from stratuslab.drivers._process import Process, TimeoutExpired
from stratuslab.drivers.hypervisor.qemu import layout
from stratuslab.drivers.hypervisor.qemu.qmp import QmpSession, try_connect

START_TIMEOUT = 30.0
QUIT_TIMEOUT = 3.0
KILL_TIMEOUT = 5.0
POWER_BUTTON_REPEAT = 3.0


def stderr_since(instance: layout.InstanceDir, offset: int, limit: int = 2000) -> str:
    try:
        with open(instance.file(layout.STDERR_LOG), "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace").strip()
    except FileNotFoundError:
        return ""
    return text[-limit:]


def log_size(instance: layout.InstanceDir) -> int:
    try:
        return instance.file(layout.STDERR_LOG).stat().st_size
    except FileNotFoundError:
        return 0


def keep_log(instance: layout.InstanceDir, logs: Path | None) -> Path:
    """A copy of the VM's QEMU log that outlives its instance directory (a failed deploy's
    rollback removes that directory, and the error must not point at a deleted file)."""
    log = instance.file(layout.STDERR_LOG)
    if logs is None:
        return log
    logs.mkdir(parents=True, exist_ok=True)
    kept = logs / f"{instance.path.name}-{time.strftime('%Y%m%dT%H%M%S')}-qemu.log"
    try:
        shutil.copyfile(log, kept)
    except OSError:
        return log
    return kept


def launch(
    vm: str, instance: layout.InstanceDir, argv: Sequence[str], *, netns: str | None,
    logs: Path | None = None,
) -> Process:
    """Spawn QEMU in `instance` (inside `netns` if given) and return once QMP answers; on
    failure the log is kept in `logs` and the error names that copy."""
    instance.path.mkdir(parents=True, exist_ok=True)
    instance.remove_runtime_files()
    offset = log_size(instance)
    full = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
    proc = _process.spawn(
        full,
        stdout_path=str(instance.file(layout.STDERR_LOG)),
        stderr_path=str(instance.file(layout.STDERR_LOG)),
        cwd=str(instance.path),
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if instance.file(layout.QMP_SOCK).exists() and try_connect(
            instance.file(layout.QMP_SOCK), vm=vm, timeout=2.0
        ):
            return proc
        time.sleep(0.05)
    running = proc.poll() is None
    if running:
        proc.kill()
    code = proc.wait()
    instance.remove_runtime_files()
    text = stderr_since(instance, offset) or "(QEMU printed nothing)"
    kept = keep_log(instance, logs)
    if running:
        raise DriverError(
            f"{vm}: QEMU did not answer on its monitor within {START_TIMEOUT:.0f} s: {text}",
            hint=f"see {kept}",
        )
    raise DriverError(
        f"{vm}: QEMU refused to start (exit {code}): {text}",
        hint=f"check the VM's disks and image; the full log is {kept}",
    )


def wait_gone(pid: int | None, instance: layout.InstanceDir, timeout: float) -> bool:
    """True once `pid` is no longer this VM's live QEMU (a zombie counts as gone)."""
    deadline = time.monotonic() + timeout
    while layout.qemu_pid_alive(pid, instance.path):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def reap(pid: int | None, proc: Process | None) -> None:
    """Collect the exit status of our own child so it does not linger as a zombie."""
    if proc is not None:
        with contextlib.suppress(TimeoutExpired):
            proc.wait(timeout=KILL_TIMEOUT)
        return
    if pid:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def qmp_quiet(vm: str, instance: layout.InstanceDir, command: str, timeout: float) -> bool:
    """Send one QMP command, ignoring failure (the process may be on its way out)."""
    try:
        with QmpSession(instance.file(layout.QMP_SOCK), vm=vm, timeout=timeout) as qmp:
            qmp.cmd(command)
    except DriverError:
        return False
    return True


def _power_button(vm: str, instance: layout.InstanceDir, pid: int | None, graceful: float) -> bool:
    """Press the ACPI power button, again every few seconds (a guest may miss a press while it
    is still starting its ACPI daemon); True if the guest powered off within `graceful` s."""
    deadline = time.monotonic() + graceful
    while (left := deadline - time.monotonic()) > 0:
        if not qmp_quiet(vm, instance, "system_powerdown", QUIT_TIMEOUT):
            return False
        if wait_gone(pid, instance, min(POWER_BUTTON_REPEAT, left)):
            return True
    return False


def stop(
    vm: str,
    instance: layout.InstanceDir,
    pid: int | None,
    *,
    graceful: float = 0.0,
    proc: Process | None = None,
) -> str:
    """Stop the QEMU: ACPI power-down for `graceful` s (if > 0), then QMP quit, then SIGKILL.

    Returns how it ended: "guest", "quit" or "killed" ("gone" when it was not running).
    """
    if not layout.qemu_pid_alive(pid, instance.path):
        reap(pid, proc)
        return "gone"
    how = "guest" if graceful > 0 and _power_button(vm, instance, pid, graceful) else "killed"
    if how != "guest" and qmp_quiet(vm, instance, "quit", QUIT_TIMEOUT):
        if wait_gone(pid, instance, QUIT_TIMEOUT):
            how = "quit"
    if how == "killed" and pid and layout.qemu_pid_alive(pid, instance.path):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        if not wait_gone(pid, instance, KILL_TIMEOUT):
            raise DriverError(f"{vm}: QEMU (pid {pid}) survived SIGKILL", hint="inspect the node")
    reap(pid, proc)
    instance.remove_runtime_files()
    return how


def saved_state_path(instance: layout.InstanceDir) -> Path:
    return instance.file(layout.STATE_FILE)
