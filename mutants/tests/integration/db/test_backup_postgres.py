"""Backup of a cloud on PostgreSQL (pg_dump, online) restored with pg_restore into a new empty
database and a new data directory: everything is found again; a non-empty target is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from tests.helpers.backupdata import check_restored, populate
from tests.helpers.cloud import make_settings, reset_database

from stratuslab.__main__ import main
from stratuslab.bootstrap import Cloud, build_cloud
from stratuslab.persistence import db


@pytest.fixture
def second_database(postgres_url: str) -> Iterator[str]:
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"),
                              isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("DROP DATABASE IF EXISTS restore_target")
        conn.exec_driver_sql("CREATE DATABASE restore_target")
    yield postgres_url.rsplit("/", 1)[0] + "/restore_target"
    with engine.connect() as conn:
        conn.exec_driver_sql("DROP DATABASE IF EXISTS restore_target WITH (FORCE)")
    engine.dispose()


def test_postgres_backup_restores_into_a_new_database(postgres_url: str, second_database: str,
                                                      tmp_path: Path) -> None:
    reset_database(postgres_url)
    cloud: Cloud = build_cloud(make_settings(tmp_path / "a", server={"database_url": postgres_url}))
    try:
        cloud.identity.ensure_admin("adminpw")
        made = populate(cloud, tmp_path)
        dest = tmp_path / "backup"
        cfg = tmp_path / "a.toml"
        cfg.write_text(f'[server]\ndata_dir = "{tmp_path / "a"}"\ndatabase_url = "{postgres_url}"\n')
        res = CliRunner().invoke(main, ["backup", "--config", str(cfg), str(dest)])
        assert res.exit_code == 0, res.output
        assert (dest / "stratuslab.pgdump").is_file()
    finally:
        cloud.stop()
    target = tmp_path / "b.toml"
    target.write_text(f'[server]\ndata_dir = "{tmp_path / "b"}"\n'
                      f'database_url = "{second_database}"\n')
    res = CliRunner().invoke(main, ["restore", "--config", str(target), str(dest)])
    assert res.exit_code == 0, res.output
    restored = build_cloud(make_settings(tmp_path / "b", server={"database_url": second_database}),
                           create_db=False)
    try:
        check_restored(restored, made, tmp_path / "b" / "images")
    finally:
        restored.stop()
    res = CliRunner().invoke(main, ["restore", "--config", str(target), str(dest)])
    assert res.exit_code == 2 and "is not empty" in res.output
    assert db.exists(second_database)
