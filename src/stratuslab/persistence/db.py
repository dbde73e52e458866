"""Engines, schema version checks and migrations of the cloud database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from stratuslab.core.errors import Unavailable
from stratuslab.persistence.engine import make_engine

MIGRATIONS = Path(__file__).parent / "migrations"
__all__ = ["current_revision", "downgrade", "head_revision", "make_engine",
           "require_current_schema", "upgrade"]

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


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config(str(engine.url.render_as_string(hide_password=False)))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config(str(engine.url.render_as_string(hide_password=False)))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def require_current_schema(engine: Engine) -> None:
    """Refuse to run on a database that is not at the latest migration."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        state = "empty" if current is None else f"at revision {current}"
        raise Unavailable(
            f"the database {engine.url.render_as_string(hide_password=True)} is {state}, "
            f"this server needs revision {head}",
            hint=UPGRADE_HINT,
        )
