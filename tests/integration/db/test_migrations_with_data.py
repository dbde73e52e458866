"""Every earlier schema revision, filled with data, upgrades to head and downgrades back without
losing a row (SQLite table rebuilds once cascaded away every address range), on SQLite and on a
real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

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
            if table.name in ("alembic_version", "schema_compat"):  # rewritten by every
                continue  # migration run (persistence.db), not data a migration must keep
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


@pytest.mark.parametrize("revision", EARLIER)
def test_database_with_data_at_an_earlier_revision_upgrades_and_downgrades_intact(
        engine: Engine, revision: str) -> None:
    db.upgrade(engine, revision)
    rows = plain(fill_every_table(engine))
    assert rows, f"revision {revision} has no tables to fill"
    rows.pop("schema_compat", None)  # rewritten by design after every migration run
    db.upgrade(engine, "head")
    assert db.current_revision(engine) == db.head_revision()
    assert read_back(engine, rows) == rows
    db.downgrade(engine, revision)
    assert db.current_revision(engine) == revision
    assert read_back(engine, rows) == rows
    db.upgrade(engine, "head")
    assert read_back(engine, rows) == rows


COMPATIBLE = [(rev, parent) for rev, parent, _doc in db.history()
              if parent and db.compatibility_floor(rev) != rev]


def check_old_code_writes(engine: Engine, old: sa.MetaData, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Insert a second row into every table the way code of the older revision would: naming
    only the columns it knows; then read them back with its own column list."""
    with engine.begin() as conn:
        for table in old.sorted_tables:
            if table.name not in rows:
                continue
            first = rows[table.name][0]
            row = {}
            for column in table.columns:
                value = first[column.name]
                if column.primary_key and isinstance(value, int):
                    value += 1000
                elif isinstance(value, str) and not column.foreign_keys:
                    value = value[:-2] + "-2" if len(value) > 2 else value + "2"
                row[column.name] = value
            conn.execute(table.insert().values(**row))
            got = conn.execute(sa.select(*table.columns)).all()
            assert len(got) == 2, table.name


@pytest.mark.parametrize(("revision", "parent"), COMPATIBLE)
def test_code_of_the_previous_revision_still_writes_and_reads_after_a_compatible_migration(
        engine: Engine, revision: str, parent: str) -> None:
    """A migration marked backward_compatible only expands the schema: front ends of the
    previous release keep working on it during a rolling upgrade."""
    db.upgrade(engine, parent)
    rows = fill_every_table(engine)
    old = sa.MetaData()
    old.reflect(engine)
    old.remove(old.tables["alembic_version"])
    db.upgrade(engine, revision)
    check_old_code_writes(engine, old, rows)
    if db.oldest_code_revision(engine) is not None:  # recorded from 0010_schema_compat on
        db.require_current_schema(engine, code_revision=parent)  # an old server would start


def test_a_server_older_than_the_compatibility_floor_is_refused(engine: Engine) -> None:
    db.upgrade(engine)
    head, previous = db.history()[-1][0], db.history()[-2][0]
    db.require_current_schema(engine, code_revision=previous)
    assert db.oldest_code_revision(engine) == db.compatibility_floor(head)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE schema_compat SET oldest_code_revision = '{head}'")
    with pytest.raises(Exception, match=f"newer than this server \\({previous}\\), and no longer "
                       "runs code as old"):
        db.require_current_schema(engine, code_revision=previous)
    db.downgrade(engine, previous)
    with pytest.raises(Exception, match=f"is at revision {previous}, this server needs"):
        db.require_current_schema(engine)
