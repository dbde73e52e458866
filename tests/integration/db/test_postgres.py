"""The cloud database on a real PostgreSQL: migrations, SKIP LOCKED job claims, a lifecycle."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.helpers.cloud import drain, make_settings
from tests.helpers.cloud import reset_database as reset

from stratuslab.bootstrap import build_cloud
from stratuslab.core.commands import RunInstance, vm_command
from stratuslab.core.entities import Job
from stratuslab.persistence import db
from stratuslab.persistence.uow import SqlUnitOfWorkFactory

pytestmark = pytest.mark.integration


def test_migrations_run_up_down_and_up_again(postgres_url: str) -> None:
    reset(postgres_url)
    engine = db.make_engine(postgres_url)
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()
    db.downgrade(engine, "base")
    assert db.current_revision(engine) is None
    db.upgrade(engine)
    db.require_current_schema(engine)
    engine.dispose()


def test_concurrent_runners_claim_each_job_exactly_once(postgres_url: str) -> None:
    reset(postgres_url)
    engine = db.make_engine(postgres_url)
    db.upgrade(engine)
    uow = SqlUnitOfWorkFactory(engine)
    now = datetime.now(UTC)
    with uow() as u:
        for _ in range(60):
            u.jobs.add(Job(None, "noop", "admin", params={}, created_at=now, updated_at=now))
        u.commit()
    claimed: dict[str, list[int]] = {}

    def worker(name: str) -> None:
        got = claimed.setdefault(name, [])
        while True:
            t = datetime.now(UTC)
            with uow() as u:
                job = u.jobs.claim_next(name, t, t - timedelta(minutes=5))
                u.commit()
            if job is None:
                return
            got.append(job.id or 0)

    threads = [threading.Thread(target=worker, args=(f"r{i}",)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    ids = [i for got in claimed.values() for i in got]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 60
    engine.dispose()


def test_full_lifecycle_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    reset(postgres_url)
    settings = make_settings(tmp_path, server={"database_url": postgres_url})
    cloud = build_cloud(settings)
    try:
        cloud.identity.ensure_admin("pw")
        admin = cloud.identity.check_password("admin", "pw")
        disk = tmp_path / "d.raw"
        disk.write_bytes(b"\0" * 512)
        image = cloud.images.register(admin, "d", str(disk))
        made = cloud.compute.run(admin, RunInstance(image.id or 0, count=3, idempotency_key="k"))
        assert cloud.compute.run(admin, RunInstance(image.id or 0, count=3, idempotency_key="k")) \
            == made
        drain(cloud)
        for vm, _ in made:
            assert cloud.compute.get(admin, vm.id or 0).state == "running"
            cloud.compute.act(admin, vm_command("kill", vm.id or 0))
        drain(cloud)
        assert cloud.compute.list(admin) == ([], 0)
    finally:
        cloud.stop()
