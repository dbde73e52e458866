"""A real `stratus-server --all-in-one` on loopback, driven by the real CLI (e2e tests)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.helpers.net import free_port
from tests.helpers.waits import wait_until

__all__ = ["BIN", "Server", "free_port"]

BIN = Path(sys.executable).parent


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
        # tests serve images on loopback: image URLs may name 127.0.0.1 (never allowed by default)
        env = {**os.environ, "STRATUSLAB_ADMIN_PASSWORD": "adminpw",
               "STRATUSLAB_IMAGES_URL_ALLOW_HOSTS": "127.0.0.1", **self.env}
        self.proc = subprocess.Popen(
            [str(BIN / "stratus-server"), "--all-in-one", "--data-dir", str(self.data_dir),
             "--listen", f"127.0.0.1:{self.port}", *self.args],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        wait_until(self._answers, timeout=timeout,
                   message=lambda: "stratus-server did not come up: " + self.log()[-3000:])

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"stratus-server exited: {self.log()[-3000:]}")
        try:
            httpx.get(self.endpoint + "/api/v1/openapi.json", timeout=1)
        except httpx.HTTPError:
            return False
        return True

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(20)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def reap(self) -> None:
        """Kill every process (QEMU, dnsmasq...) still working in this server's data directory.

        VMs and their data plane outlive their server by design; a test must not leave them
        behind: `stratus-server remove-data-plane` takes the namespace and routes away.
        """
        config = self.args[self.args.index("--config") + 1:][:1] if "--config" in self.args else []
        subprocess.run([str(BIN / "stratus-server"), "remove-data-plane", "--data-dir",
                        str(self.data_dir), *(["--config", *config] if config else [])],
                       capture_output=True, timeout=60, check=False,
                       env={**os.environ, "STRATUSLAB_CONFIG": "", **self.env})
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


#: where the tiny guest image and other slow artefacts are cached between runs
CACHE = os.environ.get("STRATUSLAB_TEST_CACHE", "/var/tmp/stratuslab-test-cache")


def wait_state(srv: Server, vm_id: int, state: str | tuple[str, ...],
               timeout: float = 60) -> dict[str, Any]:
    """Poll describe-instance until VM `vm_id` is in `state` (one name or several)."""
    wanted = (state,) if isinstance(state, str) else state
    seen: dict[str, Any] = {}

    def reached() -> dict[str, Any] | None:
        [vm] = srv.cli_json("describe-instance", str(vm_id))
        seen.update(vm)
        return vm if vm["state"] in wanted else None

    return wait_until(reached, timeout=timeout, interval=0.3,
                      message=lambda: f"VM {vm_id} stayed {seen.get('state')}, expected {wanted}")


def wait_console(srv: Server, vm_id: int, pattern: str, timeout: float = 120) -> str:
    """Poll the VM's console log until `pattern` (a multi-line regex) appears; the log text."""
    seen = {"text": ""}

    def matched() -> str | None:
        seen["text"] = srv.cli("console", str(vm_id), check=False).stdout
        return seen["text"] if re.search(pattern, seen["text"], re.M) else None

    return wait_until(matched, timeout=timeout, interval=0.5,
                      message=lambda: f"console of VM {vm_id} never matched {pattern!r}:\n"
                                      f"{seen['text'][-2000:]}")


def wait_api_state(srv: Server, vm_id: int, state: str | tuple[str, ...], *,
                   timeout: float = 60, auth: tuple[str, str] = ("admin", "adminpw")) -> str:
    """Poll GET /api/v1/vms/ID (fast enough to catch a short transitional state such as `boot`)
    until the VM is in `state`; its state."""
    wanted = (state,) if isinstance(state, str) else state
    seen = {"state": "?"}

    def reached() -> str | None:
        answer = httpx.get(f"{srv.endpoint}/api/v1/vms/{vm_id}", auth=auth, timeout=10)
        seen["state"] = answer.json().get("state", "?") if answer.status_code == 200 else "?"
        return seen["state"] if seen["state"] in wanted else None

    return wait_until(reached, timeout=timeout, interval=0.05,
                      message=lambda: f"VM {vm_id} is {seen['state']}, never {wanted}")
