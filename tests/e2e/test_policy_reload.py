"""Issue 27: the `[policy]` lists reload without a restart, on a real `stratus-server` process:
SIGHUP, and `stratus-server reload` (which sends it and prints the answer).  A settings file that
does not load is refused and the lists in force stay; a reload with no server, or a pid file
naming another program, is refused without signalling anything."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.helpers.marketdocs import signed
from tests.helpers.pki import make_ca, make_endorser
from tests.helpers.servers import BIN, Server, free_port
from tests.helpers.waits import wait_until

pytestmark = [pytest.mark.e2e]


def write_config(path: Path, ca_dir: Path, policy: str) -> None:
    path.write_text(f'[marketplace]\nca_dir = "{ca_dir}"\n[policy]\n{policy}\n')


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Server, Path, Path, str]]:
    ca = make_ca("Reload Test CA", key_index=0)
    alice = make_endorser(ca, "Alice Example", "alice@example.org", key_index=1)
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir()
    (ca_dir / "ca.pem").write_bytes(ca.cert_pem)
    cfg = tmp_path / "cfg.toml"
    write_config(cfg, ca_dir, "images_blacklist = []")
    srv = Server(tmp_path / "data", free_port(),
                 args=["--hypervisor", "simulated", "--config", str(cfg)])
    srv.start()
    try:
        resp = httpx.post(f"{srv.endpoint}/marketplace/metadata", timeout=30,
                          content=signed(alice, email="alice@example.org"))
        assert resp.status_code == 201, resp.text
        ident = resp.headers["location"].split("/metadata/")[1].split("/")[0]
        yield srv, cfg, ca_dir, ident
    finally:
        srv.stop()


def verdict(srv: Server, ident: str) -> str:
    return srv.cli("policy-image", ident, check=False).stdout


def reload(srv: Server, cfg: Path, data_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "stratus-server"), "--config", str(cfg), "--data-dir",
         str(data_dir or srv.data_dir), "reload"],
        capture_output=True, text=True, timeout=60, check=False)


def test_sighup_and_reload_command_apply_new_policy_lists_without_a_restart(
    site: tuple[Server, Path, Path, str],
) -> None:
    srv, cfg, ca_dir, ident = site
    assert "allowed" in verdict(srv, ident)
    pid = srv.proc.pid if srv.proc else 0

    write_config(cfg, ca_dir, f'images_blacklist = ["{ident}"]')
    os.kill(pid, signal.SIGHUP)
    wait_until(lambda: f"image {ident} is blacklisted" in verdict(srv, ident), timeout=30,
               message=lambda: f"blacklist not in force after SIGHUP: {verdict(srv, ident)}")
    assert "configuration reloaded: [policy] reloaded" in srv.log()

    write_config(cfg, ca_dir, 'endorsers_blacklist = ["alice@example.org"]')
    done = reload(srv, cfg)
    assert done.returncode == 0, done.stderr
    assert "1 endorser(s), 0 image(s)" in done.stdout
    shown = verdict(srv, ident)  # the answer came after the new lists were in force
    assert "endorser alice@example.org is blacklisted" in shown
    assert f"image {ident} is blacklisted" not in shown
    # a launch is refused with the same reason (the launch check took the new lists too)
    launch = srv.cli("run-instance", ident, check=False)
    assert launch.returncode != 0 and "alice@example.org is blacklisted" in launch.stderr

    cfg.write_text("[policy\nbroken = ")  # a settings file that does not parse
    early = reload(srv, cfg)  # the command reads it first: nothing is signalled
    assert early.returncode == 2 and "is not valid TOML" in early.stderr
    os.kill(pid, signal.SIGHUP)  # the server refuses it too, and keeps the lists in force
    wait_until(lambda: "reload refused, the previous settings stay in force" in srv.log(),
               timeout=30, message=lambda: srv.log()[-2000:])
    assert "endorser alice@example.org is blacklisted" in verdict(srv, ident)
    assert srv.proc is not None and srv.proc.poll() is None and srv.proc.pid == pid


def test_reload_without_a_running_server_signals_nothing(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("")
    data = tmp_path / "data"
    data.mkdir()
    res = subprocess.run([str(BIN / "stratus-server"), "--config", str(cfg), "--data-dir",
                          str(data), "reload"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "no stratus-server is running" in res.stderr

    # a stale pid file naming another program (pid 1, the init process) is not signalled
    (data / "stratus-server.pid").write_text("1\n")
    res = subprocess.run([str(BIN / "stratus-server"), "--config", str(cfg), "--data-dir",
                          str(data), "reload"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "stale stratus-server.pid" in res.stderr
