"""Shared fixtures: the migrated template database, and a built (not served) simulated cloud.

Helpers (settings, drain, HTTP servers, waits, PKI) live in tests/helpers; import them from
there, never from this file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.cloud import DATABASE_URL_ENV, make_settings, migrated_template, seed_data_dir
from tests.helpers.postgres import missing_binaries, private_cluster

from stratuslab.bootstrap import Cloud, build_cloud
from stratuslab.core.entities import Principal

# fixtures shared across directories: real guests (tiny_image) and the auth lab (slapd, disk_pki,
# proxy_files), used by name and never imported; and the skip guard (tests/skip-allowlist.toml)
pytest_plugins = ("tests.helpers.guests", "tests.helpers.authlab", "tests.helpers.skips")


POSTGRES_RUN_ENV = "STRATUSLAB_TEST_POSTGRES"  # =1: the service tests' clouds use PostgreSQL
_CLUSTER: list[contextlib.AbstractContextManager[str]] = []


def pytest_configure(config: pytest.Config) -> None:
    """STRATUSLAB_TEST_POSTGRES=1 runs every `cloud` of the session on a private PostgreSQL
    cluster (scripts/test.sh does a second pass of the service tests that way)."""
    if os.environ.get(POSTGRES_RUN_ENV) == "1" and not os.environ.get(DATABASE_URL_ENV):
        cluster = private_cluster()
        os.environ[DATABASE_URL_ENV] = cluster.__enter__()
        _CLUSTER.append(cluster)


def pytest_unconfigure(config: pytest.Config) -> None:
    while _CLUSTER:
        _CLUSTER.pop().__exit__(None, None, None)
        os.environ.pop(DATABASE_URL_ENV, None)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite cloud database migrated to head for the whole run; tests copy it."""
    return migrated_template(tmp_path_factory.mktemp("template-db"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database: STRATUSLAB_TEST_DATABASE_URL, else a private cluster started once
    for the run (tests.helpers.postgres)."""
    given = os.environ.get(DATABASE_URL_ENV)
    if given:
        yield given
        return
    if missing_binaries():
        pytest.skip("PostgreSQL server binaries are missing (scripts/setup.sh installs postgresql)")
    with private_cluster() as url:
        yield url


@pytest.fixture
def cloud(tmp_path: Path, template_db: Path) -> Iterator[Cloud]:
    """A simulated all-in-one cloud whose job runner the test drives by hand (run_once).

    It starts from a copy of the migrated template database.  With
    STRATUSLAB_TEST_DATABASE_URL=postgresql://... the same tests run on PostgreSQL.
    """
    seed_data_dir(tmp_path, template_db)
    c = build_cloud(make_settings(tmp_path))
    c.identity.ensure_admin("adminpw")
    yield c
    c.stop()


@pytest.fixture
def admin(cloud: Cloud) -> Principal:
    return cloud.identity.check_password("admin", "adminpw")
