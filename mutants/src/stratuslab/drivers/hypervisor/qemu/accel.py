"""Choosing QEMU's accelerator: `kvm`, `tcg`, or `auto` (KVM only where it really boots guests).

`/dev/kvm` alone proves nothing: a paravirtual variant (`kvm_pvm`, found on some cloud VMs) opens
fine yet hangs every stock guest kernel right after decompression.  `auto` therefore checks the
CPU's vmx/svm flags and the absence of `kvm_pvm` first, and when those pass boots the first
guest kernel it is given under KVM, bounded in time, and keeps KVM only if that kernel runs to
its root-mount panic.  The verdict is remembered in `<run_dir>/accel.json` (per host kernel
release and QEMU binary) so the probe runs once per node.

Imports only the standard library, `core` and `drivers._process`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from stratuslab.core.errors import InvalidInput
from stratuslab.drivers import _process

MODES = ("auto", "kvm", "tcg")
PROBE_TIMEOUT = 20.0
# lines a kernel prints only once it runs for real (no initrd: it panics mounting root)
_ALIVE_MARKERS = ("Unable to mount root", "Kernel panic", "Run /init", "Freeing unused kernel")


def static_kvm_verdict(
    dev_kvm: str = "/dev/kvm", cpuinfo: str = "/proc/cpuinfo", sys_module: str = "/sys/module"
) -> tuple[bool, str]:
    """(may KVM work?, why) from the device node, the CPU flags and the loaded KVM flavour."""
    if not os.access(dev_kvm, os.R_OK | os.W_OK):
        return False, f"{dev_kvm} is missing or not writable"
    try:
        flags: set[str] = set()
        for line in Path(cpuinfo).read_text().splitlines():
            if line.startswith("flags"):
                flags.update(line.split(":", 1)[1].split())
    except OSError:
        flags = set()
    if not flags & {"vmx", "svm"}:
        return False, "the CPU shows no vmx/svm flag (KVM here is paravirtual or nested-less)"
    if Path(sys_module, "kvm_pvm").exists():
        return False, "the kvm_pvm module is loaded: it only runs PVM-patched guest kernels"
    return True, "vmx/svm present and KVM is the hardware flavour"


def probe_boot(
    qemu_binary: str, kernel: str, workdir: Path, *, accel: str = "kvm", timeout: float = PROBE_TIMEOUT
) -> tuple[bool, str]:
    """Boot `kernel` (no initrd) under `accel`; True if it reaches its root-mount panic in time."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"accel-probe-{accel}.log"
    log.unlink(missing_ok=True)
    argv = [
        qemu_binary, "-nodefaults", "-no-user-config", "-machine", "pc", "-accel", accel,
        "-cpu", "host" if accel == "kvm" else "qemu64", "-m", "128", "-display", "none",
        "-no-reboot", "-serial", f"file:{log}", "-kernel", os.path.abspath(kernel),
        "-append", "console=ttyS0 panic=-1 loglevel=4",
    ]
    proc = _process.spawn(argv, stderr_path=str(workdir / f"accel-probe-{accel}.err"))
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if _alive(log):
                return True, f"a test kernel booted under {accel}"
            time.sleep(0.2)
        if _alive(log):
            return True, f"a test kernel booted under {accel}"
        return False, f"a test kernel did not boot under {accel} within {timeout:.0f} s"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _alive(log: Path) -> bool:
    try:
        text = log.read_text(errors="replace")
    except FileNotFoundError:
        return False
    return any(marker in text for marker in _ALIVE_MARKERS)


class AccelChooser:
    """Resolves the configured mode to `kvm` or `tcg`, probing and remembering for `auto`."""

    def __init__(self, mode: str, run_dir: Path, qemu_binary: str) -> None:
        if mode not in MODES:
            raise InvalidInput(f"accelerator {mode!r} is unknown", hint=f"set accel to one of {MODES}")
        self.mode = mode
        self.cache = run_dir / "accel.json"
        self.qemu_binary = qemu_binary
        self._lock = threading.Lock()

    def _key(self) -> str:
        return f"{os.uname().release}|{self.qemu_binary}"

    def cached(self) -> dict[str, str] | None:
        try:
            data: dict[str, str] = json.loads(self.cache.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data if data.get("key") == self._key() else None

    def _remember(self, accel: str, reason: str) -> str:
        self.cache.write_text(json.dumps({"key": self._key(), "accel": accel, "reason": reason}))
        return accel

    def resolve(self, kernel: str | None) -> str:
        """`kvm` or `tcg`; `kernel` (if any) is the one a probe may boot."""
        if self.mode != "auto":
            return self.mode
        with self._lock:
            known = self.cached()
            if known is not None:
                return known["accel"]
            ok, why = static_kvm_verdict()
            if not ok:
                return self._remember("tcg", why)
            if kernel is None:
                return "kvm"  # nothing to probe with yet: trust the static checks this once
            ok, why = probe_boot(self.qemu_binary, kernel, self.cache.parent)
            return self._remember("kvm" if ok else "tcg", why)
