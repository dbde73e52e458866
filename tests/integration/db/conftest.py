"""What the database tests share: an empty cloud database engine, on SQLite and on a real
PostgreSQL (each test runs on both)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.helpers.cloud import reset_database

from stratuslab.persistence import db


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/cloud.db"
    else:
        url = request.getfixturevalue("postgres_url")
        reset_database(url)
    eng = db.make_engine(url)
    yield eng
    eng.dispose()
