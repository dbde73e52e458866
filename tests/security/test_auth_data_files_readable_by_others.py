"""Attack: read the cloud database (password hashes, token hashes) or the generated admin
password as another local user, or from a log.  The data directory was created 0755 and the
database and secrets 0644, and the generated password was printed to whatever standard output
was (a log file, a service journal).

A real server started without an admin password, its standard output a file: the data
directory is 0700, the database and the password file 0600, and the password is not in the
output (only where to find it)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from tests.helpers.servers import Server, free_port

pytestmark = [pytest.mark.e2e]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_files_are_private_and_the_password_stays_out_of_logs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)  # an existing directory with loose modes is tightened too
    data.chmod(0o755)
    server = Server(data, free_port(), args=["--hypervisor", "simulated"],
                    env={"STRATUSLAB_ADMIN_PASSWORD": ""})
    server.start()
    try:
        secret = (data / "admin-password").read_text().strip()
        assert secret
        assert mode(data) == 0o700
        assert mode(data / "admin-password") == 0o600
        databases = list(data.glob("*.db"))
        assert databases and all(mode(db) == 0o600 for db in databases), \
            {db.name: oct(mode(db)) for db in databases}
        for side in data.glob("*.db-*"):  # -wal / -shm take the database's mode
            assert mode(side) & 0o077 == 0, side
        output = server.log()
        assert secret not in output
        assert str(data / "admin-password") in output
        assert server.cli("user", "list", password=secret).returncode == 0
    finally:
        server.stop()
