"""A private PostgreSQL cluster for the test run (Debian's postgresql package).

The cluster lives in a temporary directory, listens on 127.0.0.1 only, is owned by the
`postgres` system user (initdb refuses root) and is stopped and removed when the context ends.
Test code may run subprocesses directly: the product's one-door rule (drivers/_process.py) is
for the product.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

from tests.helpers.net import free_port


def server_binary(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else None


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def missing_binaries() -> list[str]:
    return [name for name in ("initdb", "pg_ctl") if server_binary(name) is None]


@contextlib.contextmanager
def private_cluster() -> Iterator[str]:
    """Start a throw-away cluster with a `stratuslab` database; yields its URL."""
    initdb, pg_ctl = server_binary("initdb"), server_binary("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("PostgreSQL server binaries are missing (scripts/setup.sh installs "
                           "postgresql)")
    base = tempfile.mkdtemp(prefix="stratuslab-pg-")
    data = os.path.join(base, "data")
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    port = free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    try:
        subprocess.run(_as_postgres([initdb, "-D", data, "-A", "trust", "-U", "postgres"]), **run)
        subprocess.run(_as_postgres([pg_ctl, "-D", data, "-w", "-l", os.path.join(base, "log"),
                                     "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {base} "
                                     "-c fsync=off", "start"]), **run)  # fmt: skip
        subprocess.run(_as_postgres([server_binary("createdb") or "createdb", "-h", "127.0.0.1",
                                     "-p", str(port), "-U", "postgres", "stratuslab"]), **run)
        yield f"postgresql://postgres@127.0.0.1:{port}/stratuslab"
    finally:
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            subprocess.run(_as_postgres([pg_ctl, "-D", data, "-m", "immediate", "stop"]),
                           capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)
