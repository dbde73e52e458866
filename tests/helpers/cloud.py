"""A throw-away simulated cloud: settings, the migrated template database, the job queue.

Migrations are the slow part of building a cloud, so the run migrates one SQLite database once
(`migrated_template`, used by the session fixture `template_db`) and every test starts from a
copy of it (`seed_data_dir`).  With STRATUSLAB_TEST_DATABASE_URL=postgresql://... the cloud
uses that database instead, emptied before each test (`reset_database`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from stratuslab.settings import Settings, load_settings

DB_FILE = "stratuslab.db"  # the server's default SQLite file in its data directory
DATABASE_URL_ENV = "STRATUSLAB_TEST_DATABASE_URL"


def make_settings(data_dir: Path, **sections: dict[str, Any]) -> Settings:
    overrides: dict[str, dict[str, Any]] = {"server": {"data_dir": str(data_dir)},
                                            "hypervisor": {"driver": "simulated"}}
    for name, values in sections.items():
        overrides.setdefault(name, {}).update(values)
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        overrides["server"]["database_url"] = url
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
