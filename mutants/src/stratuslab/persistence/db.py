"""Engines, schema version checks and migrations of the cloud database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from stratuslab.core.errors import Unavailable
from stratuslab.persistence.engine import make_engine

MIGRATIONS = Path(__file__).parent / "migrations"
__all__ = ["current_revision", "downgrade", "exists", "head_revision", "history", "is_older", "make_engine",
           "require_current_schema", "sqlite_path", "upgrade"]

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
                cfg.attributes["connection"] = conn
                step(cfg, revision)
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


def require_current_schema(engine: Engine, *, hint: str = UPGRADE_HINT) -> None:
    """Refuse to run on a database that is not at the latest migration."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        state = "empty" if current is None else f"at revision {current}"
        raise Unavailable(
            f"the database {engine.url.render_as_string(hide_password=True)} is {state}, "
            f"this server needs revision {head}",
            hint=hint,
        )
