"""A private PostgreSQL cluster started by the test run (Debian's postgresql package).

The cluster lives in a temporary directory, listens on 127.0.0.1 only, is owned by the
`postgres` system user (initdb refuses root) and is stopped and removed at the end of the session.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator

import pytest
from tests.conftest import reset_database


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else None


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    given = os.environ.get("STRATUSLAB_TEST_DATABASE_URL")
    if given:
        yield given
        return
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries are missing (scripts/setup.sh installs postgresql)")
    base = tempfile.mkdtemp(prefix="stratuslab-pg-")
    data = os.path.join(base, "data")
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(_as_postgres([initdb, "-D", data, "-A", "trust", "-U", "postgres"]), **run)
    subprocess.run(_as_postgres([pg_ctl, "-D", data, "-w", "-l", os.path.join(base, "log"), "-o",
                                 f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off",
                                 "start"]), **run)
    try:
        subprocess.run(_as_postgres([_bin("createdb") or "createdb", "-h", "127.0.0.1", "-p",
                                     str(port), "-U", "postgres", "stratuslab"]), **run)
        yield f"postgresql://postgres@127.0.0.1:{port}/stratuslab"
    finally:
        subprocess.run(_as_postgres([pg_ctl, "-D", data, "-m", "immediate", "stop"]),
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


reset = reset_database
