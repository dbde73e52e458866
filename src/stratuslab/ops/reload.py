"""Reloading a running server's `[policy]` lists and marketplace trust without a restart.

`serve` records its process id in `data_dir/stratus-server.pid` and answers SIGHUP by reading the
settings again (same --config, --data-dir and environment as at start) and handing them to
`Cloud.reload`; each answer is written to `data_dir/stratus-server.reload` (a sequence number,
ok or not, the message).  `stratus-server reload` sends that SIGHUP and waits for the answer, so
the operator sees what is now in force, or why the new settings were refused (the old ones then
stay in force).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from stratuslab.core.errors import CloudError, Unavailable
from stratuslab.ops.common import config_option, data_dir_option, fail, load
from stratuslab.settings import Settings

log = logging.getLogger("stratuslab.server")
PID_FILE = "stratus-server.pid"
ANSWER_FILE = "stratus-server.reload"


def _write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def _answer(data_dir: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((data_dir / ANSWER_FILE).read_text()))
    except (OSError, ValueError):
        return {}


class Reloader:
    """The serving process's side: the pid file and the SIGHUP handler's work."""

    def __init__(self, data_dir: Path, reread: Callable[[], Settings],
                 apply: Callable[[Settings], str]) -> None:
        self.data_dir = data_dir
        self.reread = reread
        self.apply = apply
        self.seq = 0

    def __enter__(self) -> Reloader:
        _write(self.data_dir / ANSWER_FILE, json.dumps(
            {"pid": os.getpid(), "seq": 0, "ok": True, "message": "started"}))
        _write(self.data_dir / PID_FILE, f"{os.getpid()}\n")
        return self

    def __exit__(self, *exc: object) -> None:
        pid_file = self.data_dir / PID_FILE
        try:
            if pid_file.read_text().strip() == str(os.getpid()):
                pid_file.unlink()
        except OSError:
            pass

    def reload(self) -> None:
        """One SIGHUP: new settings in force, or the old ones kept and the reason recorded."""
        self.seq += 1
        try:
            message, ok = self.apply(self.reread()), True
        except CloudError as exc:
            message, ok = exc.full_message, False
            log.error("reload refused, the previous settings stay in force: %s", message)
        except Exception as exc:  # a reload must never take the server down
            message, ok = f"{type(exc).__name__}: {exc}", False
            log.exception("reload failed, the previous settings stay in force")
        _write(self.data_dir / ANSWER_FILE,
               json.dumps({"pid": os.getpid(), "seq": self.seq, "ok": ok, "message": message}))


def running_pid(data_dir: Path) -> int:
    """The pid of the stratus-server serving `data_dir`; Unavailable when none runs."""
    way_out = f"start it: stratus-server --data-dir {data_dir}"
    try:
        pid = int((data_dir / PID_FILE).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        raise Unavailable(f"no stratus-server is running on data directory {data_dir}",
                          hint=way_out) from None
    if b"stratus" not in cmdline:  # a stale pid file whose number was reused
        raise Unavailable(f"no stratus-server is running on data directory {data_dir} (stale "
                          f"{PID_FILE}: process {pid} is something else)", hint=way_out)
    return pid


def request_reload(data_dir: Path, *, timeout: float = 30.0) -> str:
    pid = running_pid(data_dir)
    last = _answer(data_dir)
    before = int(last.get("seq", 0)) if last.get("pid") == pid else 0
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = _answer(data_dir)
        if answer.get("pid") == pid and int(answer.get("seq", 0)) > before:
            if not answer.get("ok"):
                raise Unavailable(f"stratus-server (pid {pid}) refused the new settings: "
                                  f"{answer.get('message')}",
                                  hint="fix the settings file and reload again; the previous "
                                       "settings stay in force")
            return str(answer.get("message"))
        time.sleep(0.1)  # polling the answer file; the outcome does not depend on the period
    raise Unavailable(f"stratus-server (pid {pid}) did not answer the reload within {timeout:g} s",
                      hint=f"see its log in {data_dir}")


@click.command("reload")
@config_option
@data_dir_option
def reload_command(config: str | None, data_dir: str | None) -> None:
    """Make the running server re-read its [policy] lists and marketplace trust (SIGHUP)."""
    try:
        settings = load(config, data_dir)
        message = request_reload(settings.data_dir)
    except CloudError as exc:
        fail(exc)
    click.echo(message)
