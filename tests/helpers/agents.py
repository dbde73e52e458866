"""Multi-host test beds on loopback: a front end with the cloud CA and a TLS listener, and
`stratus-node` agent processes enrolled with it (each its own data directory)."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers.servers import BIN, Server, free_port
from tests.helpers.waits import wait_until


def front_end(base: Path, *, args: list[str] | None = None,
              env: dict[str, str] | None = None) -> tuple[Server, str]:
    """A started all-in-one server whose TLS listener (the front end's certificate from
    `stratus-server ca init`) takes agent reports; returns it and its https URL."""
    data = base / "front-end"
    subprocess.run([str(BIN / "stratus-server"), "ca", "init", "--data-dir", str(data)],
                   check=True, capture_output=True, timeout=120,
                   env={**os.environ, "STRATUSLAB_CONFIG": ""})
    tls_port = free_port()
    srv = Server(data, free_port(), args=args or ["--hypervisor", "simulated"], env={
        "STRATUSLAB_TLS_LISTEN": f"127.0.0.1:{tls_port}",
        "STRATUSLAB_TLS_CERT": str(data / "ca" / "front-end.pem"),
        "STRATUSLAB_TLS_KEY": str(data / "ca" / "front-end.key"), **(env or {})})
    srv.start()
    return srv, f"https://127.0.0.1:{tls_port}"


@dataclass
class Agent:
    base: Path
    name: str
    server: str
    hypervisor: str = "simulated"
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self.base / self.name

    def command(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        res = subprocess.run([str(BIN / "stratus-node"), *args], capture_output=True, text=True,
                             timeout=120, env={**os.environ, "STRATUSLAB_CONFIG": "", **self.env})
        if check and res.returncode != 0:
            raise AssertionError(f"stratus-node {args[0]} failed: {res.stderr}{res.stdout}")
        return res

    def enroll(self, token: str, *, name: str | None = None,
               check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.command("enroll", "--data-dir", str(self.data_dir), "--server", self.server,
                            "--name", name or self.name, "--token", token, check=check)

    def start(self) -> None:
        before = self.log().count("serving on")
        log = open(self.base / f"agent-{self.name}.log", "ab")
        self.proc = subprocess.Popen(
            [str(BIN / "stratus-node"), "run", "--data-dir", str(self.data_dir),
             "--hypervisor", self.hypervisor, "--listen", f"127.0.0.1:{self.port}"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "STRATUSLAB_CONFIG": "", **self.env})
        wait_until(lambda: self.log().count("serving on") > before or self._exited(), timeout=60,
                   message=lambda: f"agent {self.name} did not start: {self.log()[-2000:]}")
        assert self.proc.poll() is None, self.log()[-2000:]

    def _exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def log(self) -> str:
        path = self.base / f"agent-{self.name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the agent process alone (never its guests, which outlive it)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            self.proc.wait(30)


def host_state(srv: Server, name: str) -> str:
    hosts = {h["name"]: h for h in srv.cli_json("host", "list")}
    return str(hosts[name]["state"]) if name in hosts else "absent"


def enrolled_agent(srv: Server, base: Path, name: str, url: str, **kw: object) -> Agent:
    """Add the host, enrol its agent, start it, wait until the front end sees it monitored."""
    token = srv.cli("host", "add", name).stdout.splitlines()[1].strip()
    agent = Agent(base, name, url, **kw)  # type: ignore[arg-type]
    agent.enroll(token)
    agent.start()
    wait_until(lambda: host_state(srv, name) == "monitored", timeout=60,
               message=lambda: f"host {name} never monitored: {agent.log()[-2000:]}")
    return agent
