"""`stratus host …` against a real stratus-server (simulated driver): the served node is listed
with its capacity, a disable refuses new VMs and survives a restart, users cannot change hosts,
flush answers 501 with the way out."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.servers import Server, free_port

pytestmark = pytest.mark.e2e


def test_host_commands_and_disable_survives_a_restart(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", free_port(), args=["--hypervisor", "simulated"])
    srv.start()
    try:
        [host] = srv.cli_json("host", "list", "--json")
        assert (host["name"], host["state"]) == ("localhost", "monitored")
        assert host["cpus"] >= 1 and host["memory_mib"] > 0 and host["heartbeat_at"]
        assert "localhost" in srv.cli("host", "list").stdout
        assert srv.cli_json("host", "show", "localhost")["front_end"] == "localhost"
        assert "state: monitored" in srv.cli("host", "show", "localhost").stdout
        srv.cli("user", "create", "bob", "--password", "bobpw1")
        refused = srv.cli("host", "disable", "localhost", user="bob", password="bobpw1",
                          check=False)
        assert refused.returncode != 0 and "only administrators manage hosts" in refused.stderr
        assert srv.cli_json("host", "list", "--json", user="bob", password="bobpw1")
        assert "host localhost: disabled" in srv.cli("host", "disable", "localhost").stdout
        flush = srv.cli("host", "flush", "localhost", check=False)
        assert flush.returncode != 0 and "flushing host localhost" in flush.stderr
        assert "stratus host disable localhost" in flush.stderr
        missing = srv.cli("host", "offline", "nohost", check=False)
        assert missing.returncode != 0 and "nohost" in missing.stderr
        srv.stop()
        srv.start()
        assert srv.cli_json("host", "show", "localhost")["state"] == "disabled"
        assert "host localhost: monitored" in srv.cli("host", "enable", "localhost").stdout
    finally:
        srv.stop()
        srv.reap()
