"""Every earlier schema revision, filled with data, upgrades to head and downgrades back without
losing a row (SQLite table rebuilds once cascaded away every address range), on SQLite and on a
real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from tests.helpers.cloud import reset_database

from stratuslab.persistence import db

EARLIER = [rev for rev, _parent, _doc in db.history()][:-1]


def _value(column: sa.Column[Any], table: str, n: int) -> Any:
    typ = column.type
    if isinstance(typ, sa.Boolean):
        return True
    if isinstance(typ, sa.Integer):
        return n
    if isinstance(typ, sa.Float | sa.Numeric):
        return 1.5
    if isinstance(typ, sa.DateTime):
        return dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    if isinstance(typ, sa.JSON):
        return []
    if isinstance(typ, sa.LargeBinary):
        return b"\x00data"
    length = getattr(typ, "length", None) or 64
    return f"{table}-{column.name}"[: max(length, 1)]


def fill_every_table(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """One row in every table of the schema as it is now, foreign keys pointing at real rows."""
    meta = sa.MetaData()
    meta.reflect(engine)
    rows: dict[str, list[dict[str, Any]]] = {}
    with engine.begin() as conn:
        for n, table in enumerate(meta.sorted_tables, start=1):
            if table.name == "alembic_version":
                continue
            row = {c.name: _value(c, table.name, n) for c in table.columns}
            for fk in table.foreign_keys:
                parent = rows.get(fk.column.table.name)
                if fk.column.table.name == table.name or not parent:
                    row[fk.parent.name] = None
                else:
                    row[fk.parent.name] = parent[0][fk.column.name]
            conn.execute(table.insert().values(**row))
            rows[table.name] = [row]
    return rows


def read_back(engine: Engine, rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    meta = sa.MetaData()
    meta.reflect(engine)
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for name, written in rows.items():
            assert name in meta.tables, f"table {name} vanished"
            got = [dict(r._mapping) for r in conn.execute(meta.tables[name].select())]
            out[name] = [{k: _plain(r.get(k)) for k in written[0]} for r in got]
    return out


def _plain(value: Any) -> Any:
    """Datetimes as naive UTC (SQLite gives them back without a zone, PostgreSQL with one)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def plain(rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {name: [{k: _plain(v) for k, v in row.items()} for row in got]
            for name, got in rows.items()}


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


@pytest.mark.parametrize("revision", EARLIER)
def test_database_with_data_at_an_earlier_revision_upgrades_and_downgrades_intact(
        engine: Engine, revision: str) -> None:
    db.upgrade(engine, revision)
    rows = plain(fill_every_table(engine))
    assert rows, f"revision {revision} has no tables to fill"
    db.upgrade(engine, "head")
    assert db.current_revision(engine) == db.head_revision()
    assert read_back(engine, rows) == rows
    db.downgrade(engine, revision)
    assert db.current_revision(engine) == revision
    assert read_back(engine, rows) == rows
    db.upgrade(engine, "head")
    assert read_back(engine, rows) == rows
