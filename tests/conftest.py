"""Shared fixtures: settings for a throw-away cloud, and a built (not served) cloud."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratuslab.bootstrap import Cloud, build_cloud
from stratuslab.core.entities import Principal
from stratuslab.settings import Settings, load_settings


def make_settings(data_dir: Path, **sections: dict[str, Any]) -> Settings:
    overrides: dict[str, dict[str, Any]] = {"server": {"data_dir": str(data_dir)},
                                            "hypervisor": {"driver": "simulated"}}
    for name, values in sections.items():
        overrides.setdefault(name, {}).update(values)
    url = os.environ.get("STRATUSLAB_TEST_DATABASE_URL")
    if url:
        overrides["server"]["database_url"] = url
    return load_settings(None, env={}, overrides=overrides)


def reset_database(url: str) -> None:
    """Empty a PostgreSQL database given to the test run (each test starts from nothing)."""
    from sqlalchemy import text

    from stratuslab.persistence.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    """A simulated all-in-one cloud whose job runner the test drives by hand (run_once).

    With STRATUSLAB_TEST_DATABASE_URL=postgresql://... the same tests run on PostgreSQL.
    """
    url = os.environ.get("STRATUSLAB_TEST_DATABASE_URL")
    if url:
        reset_database(url)
    c = build_cloud(make_settings(tmp_path))
    c.identity.ensure_admin("adminpw")
    yield c
    c.stop()


@pytest.fixture
def admin(cloud: Cloud) -> Principal:
    return cloud.identity.check_password("admin", "adminpw")


def drain(cloud: Cloud, limit: int = 100) -> None:
    """Run queued jobs until none is left."""
    for _ in range(limit):
        if not cloud.runner.run_once():
            return


@contextlib.contextmanager
def serve_http(handler: Any) -> Iterator[str]:
    """Run an HTTP server with `handler` on 127.0.0.1; yields its base URL (no trailing slash)."""
    import http.server
    import threading

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _quiet_files() -> Any:
    import http.server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return None

    return Quiet


@contextlib.contextmanager
def http_directory(directory: Path) -> Iterator[str]:
    """Serve the files of `directory` over HTTP on 127.0.0.1; yields the base URL."""
    import functools

    with serve_http(functools.partial(_quiet_files(), directory=str(directory))) as url:
        yield url
