"""Named locks shared by every front end of one database.

On PostgreSQL a lock is a session advisory lock held on a connection of its own: the database
releases it when the holder's process dies or its connection drops, which is what makes a
takeover by another front end fast and safe.  On SQLite (one front end by design) every lock is
granted.  Imports core and this package only.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from stratuslab.persistence.engine import make_engine


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a lock name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class DbLock:
    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self.key = lock_key(name)
        self._conn: Connection | None = None
        self._guard = threading.Lock()

    @property
    def shared(self) -> bool:
        """Whether other front ends can share the database (and so contend for the lock)."""
        return self.engine.dialect.name == "postgresql"

    def try_acquire(self) -> bool:
        if not self.shared:
            return True
        with self._guard:
            if self._conn is not None:
                return self._alive()
            conn = self.engine.connect()
            try:
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                        {"k": self.key}).scalar())
                conn.commit()
            except SQLAlchemyError:
                conn.close()
                return False
            if got:
                self._conn = conn
            else:
                conn.close()
            return got

    def _alive(self) -> bool:
        assert self._conn is not None
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
            return True
        except SQLAlchemyError:  # the connection dropped: the database released the lock
            self._conn.invalidate()
            self._conn = None
            return False

    def held(self) -> bool:
        if not self.shared:
            return True
        with self._guard:
            return self._conn is not None and self._alive()

    def release(self) -> None:
        with self._guard:
            if self._conn is None:
                return
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                self._conn.commit()
            except SQLAlchemyError:
                pass
            finally:
                self._conn.close()
                self._conn = None


@contextlib.contextmanager
def exclusive(url: str, name: str, *, timeout: float = 300.0) -> Iterator[None]:
    """Run a block alone among the front ends of one PostgreSQL database (e.g. the start-up that
    seeds default rows); elsewhere a no-op.  Waits at most `timeout` seconds for the others."""
    if not url.startswith("postgresql"):
        yield
        return
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f"SET lock_timeout = '{int(timeout * 1000)}ms'"))
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key(name)})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(name)})
                conn.commit()
    finally:
        engine.dispose()
