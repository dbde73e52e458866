"""A real stratus-server on loopback, driven by the real CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    data_dir: Path
    port: int
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> None:
        log = open(self.data_dir.parent / f"server-{self.port}.log", "ab")
        env = {**os.environ, "STRATUSLAB_ADMIN_PASSWORD": "adminpw", **self.env}
        self.proc = subprocess.Popen(
            [str(BIN / "stratus-server"), "--all-in-one", "--data-dir", str(self.data_dir),
             "--listen", f"127.0.0.1:{self.port}", *self.args],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"stratus-server exited: {self.log()[-3000:]}")
            try:
                httpx.get(self.endpoint + "/api/v1/openapi.json", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("stratus-server did not come up: " + self.log()[-3000:])

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(20)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def reap(self) -> None:
        """Kill every process (QEMU, dnsmasq...) still working in this server's data directory.

        VMs outlive their server by design; a test must not leave them behind.
        """
        marker = str(self.data_dir)
        for pid_dir in Path("/proc").glob("[0-9]*"):
            try:
                cwd = os.readlink(pid_dir / "cwd")
                cmd = (pid_dir / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if marker in cwd or marker in cmd:
                try:
                    os.kill(int(pid_dir.name), signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def log(self) -> str:
        return (self.data_dir.parent / f"server-{self.port}.log").read_text(errors="replace")

    def cli(self, *args: str, user: str = "admin", password: str = "adminpw",
            check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [str(BIN / "stratus"), "--endpoint", self.endpoint, "-u", user, "-p", password, *args]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                             env={**os.environ, "STRATUSLAB_CONFIG": "/nonexistent", **(env or {})})
        if check and res.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({res.returncode}): {res.stderr}{res.stdout}")
        return res

    def cli_json(self, *args: str, **kw: Any) -> Any:
        return json.loads(self.cli(*args, "--json", **kw).stdout)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("e2e")
    srv = Server(base / "data", free_port(), args=["--hypervisor", "simulated"])
    srv.start()
    yield srv
    srv.stop()
    srv.reap()
