"""stratus-server start-up as an operator sees it: the port is claimed before anything is built,
`:0` prints the port really chosen, JSON logs carry the request id of each API call, and the
database commands never create a database behind a mistyped --data-dir."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from tests.helpers.servers import BIN

pytestmark = pytest.mark.e2e


def _server(args: list[str], data: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "STRATUSLAB_ADMIN_PASSWORD": "adminpw"}
    return subprocess.Popen(
        [str(BIN / "stratus-server"), "--all-in-one", "--hypervisor", "simulated",
         "--data-dir", str(data), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True)


def test_port_zero_prints_the_real_port_and_logs_request_ids_as_json(tmp_path: Path) -> None:
    data = tmp_path / "data"
    log = tmp_path / "logs" / "server.log"
    cfg = tmp_path / "s.toml"
    cfg.write_text(f'[server]\nlog_format = "json"\nlog_file = "{log}"\n')
    proc = _server(["--listen", "127.0.0.1:0", "--config", str(cfg)], data)
    try:
        assert proc.stdout is not None
        line = ""
        deadline = time.monotonic() + 120
        while "listening on" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        url = line.split("listening on ", 1)[1].split()[0]
        port = int(url.rsplit(":", 1)[1])
        assert port != 0
        res = httpx.get(url + "/api/v1/whoami", auth=("admin", "adminpw"),
                        headers={"X-Request-ID": "startup-1"}, timeout=30)
        assert res.status_code == 200 and res.headers["x-request-id"] == "startup-1"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    entries = [json.loads(x) for x in log.read_text().splitlines()]
    assert any(e["request_id"] == "startup-1" and e["message"].startswith("GET /api/v1/whoami")
               for e in entries)


def test_a_port_in_use_is_reported_before_anything_is_built(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = _server(["--listen", f"127.0.0.1:{port}"], tmp_path / "data")
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert f"Error: cannot listen on 127.0.0.1:{port} (setting server.listen)" in err
    assert "listening" not in out
    assert not (tmp_path / "data").exists()


def test_db_commands_on_a_mistyped_data_dir_create_nothing(tmp_path: Path) -> None:
    typo = tmp_path / "dta"
    for argv in (["db", "upgrade"], ["db", "current"], ["db", "status"],
                 ["db", "downgrade", "--revision", "base"]):
        res = subprocess.run([str(BIN / "stratus-server"), *argv, "--data-dir", str(typo)],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 2, (argv, res.stderr)
        assert f"there is no database at {typo}/stratuslab.db" in res.stderr
        assert f"db upgrade --create --data-dir {typo}" in res.stderr
    assert not typo.exists()


def test_a_server_on_a_mistyped_data_dir_creates_nothing(tmp_path: Path) -> None:
    typo = tmp_path / "dta"
    res = subprocess.run([str(BIN / "stratus-server"), "--data-dir", str(typo), "--listen",
                          "127.0.0.1:0"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert f"Error: there is no database at {typo}/stratuslab.db" in res.stderr
    assert not typo.exists()


def test_group_options_reach_the_database_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    res = subprocess.run([str(BIN / "stratus-server"), "--data-dir", str(data), "db", "upgrade",
                          "--create"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and f"{data}/stratuslab.db" in res.stdout
    res = subprocess.run([str(BIN / "stratus-server"), "--data-dir", str(data), "db", "current"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "up to date" in res.stdout
