"""A userspace tgt iSCSI target daemon (Debian `tgt`) that StratusLab starts and manages itself.

Each daemon has its own management channel (`tgtd -C <control_port>`, a unix socket under
/var/run/tgtd) and its own portal (`--iscsi portal=<host>:<port>`), so it never collides with a
system tgtd; optionally it runs inside a network namespace (`ip netns exec NS tgtd ...`).  The
management socket is a file, so `tgtadm` reaches it from any namespace.

`tgtd` ignores SIGTERM: `stop` deletes every target, then the system
(`tgtadm --op delete --mode system`), waits for the process and kills it only as a last resort.
Imports `core` and `drivers._process` only.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stratuslab.core.errors import DriverError
from stratuslab.drivers import _process
from stratuslab.drivers._process import Process

_TARGET_LINE = re.compile(r"^Target (\d+): (\S+)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class TgtConfig:
    control_port: int = 7100
    portal_host: str = "127.0.0.1"
    portal_port: int = 3260
    netns: str | None = None
    state_dir: str = "/var/lib/stratuslab/tgt"
    tgtd: str = "tgtd"
    tgtadm: str = "tgtadm"
    timeout: float = 20.0

    @property
    def portal(self) -> str:
        return f"{self.portal_host}:{self.portal_port}"


class TgtDaemon:
    """Start/adopt/stop one tgtd and drive it with tgtadm."""

    def __init__(self, config: TgtConfig) -> None:
        self.config = config
        self._proc: Process | None = None
        # tids are chosen as max+1: two exports at once must not pick the same one
        self._lock = threading.Lock()

    # --- lifecycle --------------------------------------------------------------------------

    @property
    def pid_file(self) -> Path:
        return Path(self.config.state_dir) / f"tgtd-{self.config.control_port}.pid"

    def running(self) -> bool:
        """True when a tgtd answers on our control port (ours, or one left from a restart)."""
        probe = _process.run(
            self._admin_argv("--mode", "system", "--op", "show"),
            timeout=self.config.timeout,
            check=False,
        )
        return probe.returncode == 0

    def ensure_started(self) -> None:
        if self.running():
            return
        cfg = self.config
        Path(cfg.state_dir).mkdir(parents=True, exist_ok=True)
        argv = [cfg.tgtd, "-f", "-C", str(cfg.control_port), "--iscsi", f"portal={cfg.portal}"]
        if cfg.netns:
            argv = ["ip", "netns", "exec", cfg.netns, *argv]
        log = str(Path(cfg.state_dir) / f"tgtd-{cfg.control_port}.log")
        self._proc = _process.spawn(argv, stdout_path=log, stderr_path=log)
        # `ip netns exec` execs tgtd, so this is tgtd's pid; kept for adoption after a restart
        self.pid_file.write_text(f"{self._proc.pid}\n")
        deadline = time.monotonic() + cfg.timeout
        while not self.running():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._reap(kill=True)
                raise DriverError(
                    f"tgtd on control port {cfg.control_port}, portal {cfg.portal} did not "
                    f"start: {_tail(log)}",
                    hint="is the portal port in use? (ss -ltnp) Choose another storage pool port",
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """Remove every target, shut the daemon down and reap it.  Idempotent."""
        if self.running():
            for tid in self.targets().values():
                self.delete_target(tid)
            self.admin("--op", "delete", "--mode", "system")
        self._reap(kill=False)

    def _reap(self, *, kill: bool) -> None:
        pid = self._proc.pid if self._proc is not None else _read_pid(self.pid_file)
        if pid is not None:
            _wait_or_kill(pid, self._proc, 0.0 if kill else self.config.timeout)
        self._proc = None
        for leftover in (self.pid_file, *_socket_files(self.config.control_port)):
            try:
                leftover.unlink()
            except FileNotFoundError:
                pass

    # --- targets ----------------------------------------------------------------------------

    def admin(self, *args: str) -> str:
        return _process.run(self._admin_argv(*args), timeout=self.config.timeout).stdout

    def _admin_argv(self, *args: str) -> list[str]:
        return [self.config.tgtadm, "-C", str(self.config.control_port), "--lld", "iscsi", *args]

    def targets(self) -> dict[str, int]:
        """iqn -> tid of every target the daemon exports."""
        out = self.admin("--mode", "target", "--op", "show")
        return {iqn: int(tid) for tid, iqn in _TARGET_LINE.findall(out)}

    def new_target(self, iqn: str, backing_store: str, initiators: Sequence[str]) -> int:
        """Target `iqn` with LUN 1 backed by `backing_store`, open to `initiators` (addresses,
        or ALL).  A half-made target is removed before the error propagates."""
        with self._lock:
            for attempt in range(3):
                existing = self.targets()
                if iqn in existing:
                    return existing[iqn]
                tid = max(existing.values(), default=0) + 1
                try:
                    self.admin(
                        "--mode", "target", "--op", "new", "--tid", str(tid), "--targetname", iqn
                    )  # fmt: skip
                    break
                except DriverError as exc:
                    # another server process took that tid (or made this target) meanwhile
                    if "exist" not in exc.message or attempt == 2:
                        raise
            self._add_lun(tid, backing_store, initiators)
        return tid

    def _add_lun(self, tid: int, backing_store: str, initiators: Sequence[str]) -> None:
        try:
            self.admin(
                "--mode", "logicalunit", "--op", "new", "--tid", str(tid), "--lun", "1",
                "--backing-store", backing_store,
            )  # fmt: skip
            for address in initiators:
                self.admin(
                    "--mode", "target", "--op", "bind", "--tid", str(tid),
                    "--initiator-address", address,
                )  # fmt: skip
        except DriverError:
            self.delete_target(tid)
            raise

    def bind_account(self, tid: int, user: str, password: str) -> None:
        """CHAP on target `tid`: only `user` with `password` may log in.  Idempotent (the
        account of a volume is made once; its password never changes)."""
        with self._lock:
            shown = self.admin("--mode", "account", "--op", "show")
            if user not in shown.split():
                self.admin("--mode", "account", "--op", "new", "--user", user,
                           "--password", password)  # fmt: skip
            try:
                self.admin("--mode", "account", "--op", "bind", "--tid", str(tid), "--user", user)
            except DriverError as exc:
                if "exist" not in exc.message:
                    raise

    def delete_account(self, user: str) -> None:
        try:
            self.admin("--mode", "account", "--op", "delete", "--user", user)
        except DriverError:
            pass  # unknown (never exported, or tgtd restarted): nothing to remove

    def delete_target(self, tid: int) -> None:
        self.admin("--mode", "target", "--op", "delete", "--force", "--tid", str(tid))

    def lun_backing(self, tid: int) -> str | None:
        out = self.admin("--mode", "target", "--op", "show", "--tid", str(tid))
        m = re.search(r"LUN: 1\n(?:.*\n)*?\s+Backing store path: (\S+)", out)
        return m.group(1) if m else None


def _tail(path: str, limit: int = 800) -> str:
    try:
        return Path(path).read_text(errors="replace").strip()[-limit:] or "no output"
    except OSError:
        return "no output"


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _socket_files(control_port: int) -> tuple[Path, Path]:
    base = Path("/var/run/tgtd") / f"socket.{control_port}"
    return base, base.with_name(base.name + ".lock")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _wait_or_kill(pid: int, proc: Process | None, grace: float) -> None:
    deadline = time.monotonic() + grace
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    if proc is not None:
        proc.wait(timeout=10)
