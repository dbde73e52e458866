"""Engines, schema version checks and migrations of the cloud database."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from stratuslab.core.errors import Unavailable
from stratuslab.persistence.engine import make_engine
from stratuslab.persistence.locks import lock_key

MIGRATIONS = Path(__file__).parent / "migrations"
__all__ = ["compatibility_floor", "current_revision", "downgrade", "exists", "head_revision",
           "history", "is_older", "make_engine", "oldest_code_revision", "require_current_schema",
           "sqlite_path", "upgrade"]
log = logging.getLogger(__name__)

UPGRADE_HINT = "run: stratus-server db upgrade --data-dir DIR (or --config FILE)"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1]
    return Path(path) if path and path != ":memory:" else None


def exists(url: str) -> bool:
    """False only for a SQLite file that is not there (opening it would create it)."""
    path = sqlite_path(url)
    return path is None or path.is_file()


def upgrade(engine: Engine, revision: str = "head") -> None:
    _migrate(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    _migrate(engine, command.downgrade, revision)


def _migrate(engine: Engine, step: Any, revision: str) -> None:
    """Run migrations in one transaction.  On SQLite, foreign keys are off meanwhile: a batch
    migration rebuilds a table (copy, drop, rename) and with them on, dropping the old table would
    cascade-delete or refuse on the rows that refer to it; they are checked before the commit."""
    cfg = alembic_config(str(engine.url.render_as_string(hide_password=False)))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        raw = conn.connection.driver_connection  # outside any transaction: the pragma only works there
        assert raw is not None
        if sqlite:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                if engine.dialect.name == "postgresql":  # front ends starting together: one migrates
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({lock_key('migrations')})")
                cfg.attributes["connection"] = conn
                step(cfg, revision)
                _record_floor(conn)
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise Unavailable(
                            f"migrating to {revision} would leave rows of {broken[0][0]} "
                            f"pointing at missing rows of {broken[0][2]}; nothing was changed",
                            hint="report this migration as a bug")
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")


def history() -> list[tuple[str, str | None, str]]:
    """(revision, its parent, first line of its description) from the oldest to the newest."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    out = [(rev.revision, rev.down_revision if isinstance(rev.down_revision, str) else None,
            (rev.doc or "").strip().splitlines()[0] if rev.doc else "")
           for rev in script.walk_revisions("base", "heads")]
    return list(reversed(out))


def is_older(revision: str, than: str | None) -> bool:
    """Whether `revision` is an ancestor of `than` (the database's current revision)."""
    if than is None:
        return False
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return any(rev.revision == revision
               for rev in script.iterate_revisions(than, "base") if rev.revision != than)


def compatibility_floor(revision: str) -> str:
    """The oldest revision whose code still runs on a database at `revision`: walk down while
    each migration declares `backward_compatible = True` (expand only)."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    floor, rev = revision, script.get_revision(revision)
    while (rev is not None and getattr(rev.module, "backward_compatible", False)
           and isinstance(rev.down_revision, str)):
        floor = rev.down_revision
        rev = script.get_revision(floor)
    return floor


def oldest_code_revision(engine: Engine) -> str | None:
    """What the database says (table schema_compat), or None before it existed."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("schema_compat"):
            return None
        row = conn.execute(text("SELECT oldest_code_revision FROM schema_compat")).first()
        return None if row is None else str(row[0])


def _record_floor(conn: Any) -> None:
    if not inspect(conn).has_table("schema_compat"):
        return
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision is None:
        return
    conn.execute(text("DELETE FROM schema_compat"))
    conn.execute(text("INSERT INTO schema_compat (id, oldest_code_revision) VALUES (1, :r)"),
                 {"r": compatibility_floor(revision)})


def require_current_schema(engine: Engine, *, hint: str = UPGRADE_HINT,
                           code_revision: str | None = None) -> None:
    """Refuse to run on a database that is not at this code's revision (`code_revision`,
    default the head) -- unless it is newer and says that code this old still runs on it (a
    rolling upgrade of front ends in progress)."""
    current, code = current_revision(engine), code_revision or head_revision()
    if current == code:
        return
    where = engine.url.render_as_string(hide_password=True)
    known = {rev for rev, _p, _d in history()}
    if current is not None and (current not in known or is_older(code, current)):
        floor = oldest_code_revision(engine)
        if floor is not None and (floor == code or is_older(floor, code)):
            log.warning("the database %s is at revision %s, newer than this server's %s; it "
                        "still runs this server's code (rolling upgrade): upgrade this server "
                        "next", where, current, code)
            return
        raise Unavailable(
            f"the database {where} is at revision {current}, newer than this server "
            f"({code}), and no longer runs code as old as this server's",
            hint="install the release that brought that revision on this host")
    state = "empty" if current is None else f"at revision {current}"
    raise Unavailable(f"the database {where} is {state}, this server needs revision {code}",
                      hint=hint)
