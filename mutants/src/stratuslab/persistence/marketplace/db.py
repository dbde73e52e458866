"""Engine and migrations of the marketplace database (separate from the cloud database).

`open_database(url)` makes the engine (persistence/engine.py, the factory the cloud database
uses too) and brings the schema to the head revision of the marketplace's own Alembic directory.  Imports SQLAlchemy/Alembic and core only.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from stratuslab.persistence.engine import make_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def sqlite_url(data_dir: str | Path) -> str:
    return f"sqlite:///{Path(data_dir) / 'marketplace.db'}"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    cfg = alembic_config(str(engine.url))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_database(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    return engine
