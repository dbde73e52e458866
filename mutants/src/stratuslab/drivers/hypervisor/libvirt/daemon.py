"""A libvirtd of the cloud's own, for a node that has no system libvirtd (or must not share it).

`ManagedLibvirtd(base)` runs `libvirtd` in a private mount namespace (`unshare --mount`) where
libvirt's fixed system paths (/run/libvirt, /var/lib/libvirt, /var/log/libvirt,
/var/cache/libvirt, /etc/libvirt) are bind mounts of directories under `base`: its socket,
state, logs and configuration live there and nowhere else, so several clouds (or test runs) on
one machine each have their own daemon.  Its QEMU processes run as root with no security driver
(the node's instance files belong to the cloud) and inherit the data-plane namespace when one
is given, so they open the taps the network driver made there.  Stopping the daemon leaves its
guests running; a new daemon on the same `base` finds them again.

Imports only the standard library, `core` and `drivers._process`.
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import sys
import time
from pathlib import Path

from stratuslab.core.errors import DriverError
from stratuslab.drivers import _process

#: libvirt's compiled-in system paths and the subdirectory of `base` mounted over each
MOUNTS = (
    ("run", "/run/libvirt"),
    ("lib", "/var/lib/libvirt"),
    ("log", "/var/log/libvirt"),
    ("cache", "/var/cache/libvirt"),
    ("etc", "/etc/libvirt"),
)
QEMU_USER = "libvirt-qemu"  # Debian's libvirt refuses to start when this user does not exist

LIBVIRTD_CONF = """\
unix_sock_group = "root"
unix_sock_rw_perms = "0700"
unix_sock_ro_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
"""
QEMU_CONF = """\
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
stdio_handler = "file"
"""


class ManagedLibvirtd:
    def __init__(self, base: str | os.PathLike[str], *, netns: str | None = None,
                 start_timeout: float = 60.0) -> None:
        self.base = Path(base).resolve()
        self.netns = netns
        self.start_timeout = start_timeout
        self._proc: _process.Process | None = None  # the daemon we started, reaped by stop()

    @property
    def socket_path(self) -> Path:
        return self.base / "run" / "libvirt-sock"

    @property
    def pid_file(self) -> Path:
        return self.base / "run" / "libvirtd.pid"

    @property
    def uri(self) -> str:
        return f"qemu:///system?socket={self.socket_path}"

    def qemu_pid_file(self, domain: str) -> Path:
        return self.base / "run" / "qemu" / f"{domain}.pid"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def _answers(self) -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            try:
                s.connect(str(self.socket_path))
            except OSError:
                return False
        return True

    def _lay_out(self) -> None:
        for sub, _ in MOUNTS:
            (self.base / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.base / "etc" / "libvirtd.conf").write_text(LIBVIRTD_CONF)
        (self.base / "etc" / "qemu.conf").write_text(QEMU_CONF)
        try:
            pwd.getpwnam(QEMU_USER)
        except KeyError:  # a private passwd/group that has the user, for this daemon only
            (self.base / "passwd").write_text(
                Path("/etc/passwd").read_text()
                + f"{QEMU_USER}:x:64055:64055:libvirt QEMU:/var/lib/libvirt:/usr/sbin/nologin\n")
            (self.base / "group").write_text(
                Path("/etc/group").read_text() + f"{QEMU_USER}:x:64055:\n")

    def ensure_running(self) -> str:
        """Start the daemon unless it already runs; return its connection URI."""
        if self.pid() is not None:  # ours already runs (e.g. before a restart of the server)
            self._wait_answering(None)
            return self.uri
        self._lay_out()
        argv = ["unshare", "--mount", "--propagation", "private", "--",
                sys.executable, "-m", "stratuslab.drivers.hypervisor.libvirt.launch",
                str(self.base)]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        log = self.base / "log" / "daemon.out"
        self._proc = _process.spawn(argv, stdout_path=str(log), stderr_path=str(log))
        self._wait_answering(self._proc)
        return self.uri

    def _wait_answering(self, proc: _process.Process | None) -> None:
        deadline = time.monotonic() + self.start_timeout
        while not (self.pid() is not None and self._answers()):
            gone = proc.poll() is not None if proc is not None else self.pid() is None
            if gone or time.monotonic() > deadline:
                log = self.base / "log" / "daemon.out"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                daemon_log = self.base / "log" / "libvirtd.log"
                if daemon_log.exists():
                    tail += daemon_log.read_text(errors="replace")[-2000:]
                if proc is not None and proc.poll() is None:
                    proc.kill()
                raise DriverError(f"libvirtd under {self.base} does not answer: {tail.strip()}",
                                  hint="check that the libvirt-daemon and "
                                       "libvirt-daemon-driver-qemu packages are installed")
            time.sleep(0.05)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the daemon (its guests keep running)."""
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.pid() is not None:
            os.kill(pid, signal.SIGKILL)
        if self._proc is not None:
            try:
                self._proc.wait(timeout=timeout)
            except _process.TimeoutExpired:
                pass
            self._proc = None
