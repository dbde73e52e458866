"""A throw-away simulated cloud: settings, the migrated template database, the job queue.

Migrations are the slow part of building a cloud, so the run migrates one SQLite database once
(`migrated_template`, used by the session fixture `template_db`) and every test starts from a
copy of it (`seed_data_dir`).  With STRATUSLAB_TEST_DATABASE_URL=postgresql://... the cloud
uses that database instead, emptied before each test (`reset_database`); a second cloud alive in
the same test gets a database of its own in that cluster (`own_database`), and a test that opens
the database without a cloud takes `migrated_engine`, so every fixture follows the run's mode.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stratuslab.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

DB_FILE = "stratuslab.db"  # the server's default SQLite file in its data directory
DATABASE_URL_ENV = "STRATUSLAB_TEST_DATABASE_URL"


def make_settings(data_dir: Path, **sections: dict[str, Any]) -> Settings:
    overrides: dict[str, dict[str, Any]] = {"server": {"data_dir": str(data_dir)},
                                            "hypervisor": {"driver": "simulated"}}
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        overrides["server"]["database_url"] = url
    for name, values in sections.items():  # a test's own database_url (own_database) wins
        overrides.setdefault(name, {}).update(values)
    return load_settings(None, env={}, overrides=overrides)


def reset_database(url: str) -> None:
    """Empty a PostgreSQL database given to the test run (each test starts from nothing)."""
    from sqlalchemy import text

    from stratuslab.persistence.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def own_database(name: str) -> dict[str, str]:
    """[server] settings for a cloud that lives next to another one in the same test.

    On SQLite each data directory has its own file: nothing to add.  On PostgreSQL runs two
    clouds on one database would be one cloud (and refuse to serve the same node twice): this
    makes database `name` in the run's cluster, empty, and returns its URL as database_url.
    """
    url = os.environ.get(DATABASE_URL_ENV)
    if not url:
        return {}
    from sqlalchemy import text

    from stratuslab.persistence.db import make_engine

    engine = make_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return {"database_url": url.rsplit("/", 1)[0] + "/" + name}


def migrated_engine(data_dir: Path, template: Path) -> Engine:
    """An engine on the test's cloud database at the head revision, without a cloud: a copy of
    the template in `data_dir` on SQLite, the run's emptied and migrated database on PostgreSQL."""
    from stratuslab.persistence import db

    seed_data_dir(data_dir, template)
    url = os.environ.get(DATABASE_URL_ENV)
    engine = db.make_engine(url or f"sqlite:///{data_dir / DB_FILE}")
    if url:
        db.upgrade(engine)
    return engine


def migrated_template(directory: Path) -> Path:
    """Migrate a new SQLite cloud database in `directory` to the head revision; its path."""
    from stratuslab.persistence import db

    path = directory / DB_FILE
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()  # the last connection checkpoints the WAL into the file
    for extra in ("-wal", "-shm"):
        if path.with_name(path.name + extra).exists():
            raise AssertionError(f"template database {path} still has a {extra} file")
    return path


def seed_data_dir(data_dir: Path, template: Path | None) -> None:
    """Start `data_dir` from a copy of the migrated template (nothing to do on PostgreSQL)."""
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        reset_database(url)
        return
    if template is None:
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, data_dir / DB_FILE)


def drain(cloud: Any, limit: int = 100) -> None:
    """Run queued jobs until none is left (fails loudly if they never end)."""
    for _ in range(limit):
        if not cloud.runner.run_once():
            return
    raise AssertionError(f"jobs still queued after {limit} runs: a job re-queues itself")


def import_marketplace(cloud: Any, admin: Any, identifier: str) -> int:
    """Import a marketplace image as `admin` (its job run to the end); the cloud image's id."""
    _image, job = cloud.services.marketplace_images.request_import(admin, identifier)
    assert job is not None
    drain(cloud)
    done = cloud.compute.job(admin, job.id)
    assert done.state == "done", done.error
    return int(done.params["image_id"])
