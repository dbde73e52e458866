"""The one SQLAlchemy engine factory, for the cloud database and the marketplace's alike.

SQLite (the default): the directory is made, WAL journal, foreign keys, a 30 s busy timeout, and
transactions begun by us: `BEGIN IMMEDIATE` for writers (they take the write lock up front, so
two read-then-write transactions never deadlock on the lock upgrade), plain `BEGIN` for a
connection marked read-only (`conn.info["stratuslab_readonly"]`).  PostgreSQL: `postgresql://`
URLs go through psycopg 3, with a pre-ping pool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

READONLY = "stratuslab_readonly"  # connection info key: a read-only transaction


def make_engine(url: str, *, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo,
                               connect_args={"timeout": 30, "check_same_thread": False})
        _sqlite_tuning(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _sqlite_tuning(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # BEGIN is emitted below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if conn.info.get(READONLY, False) else "BEGIN IMMEDIATE")
