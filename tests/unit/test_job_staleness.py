"""Job staleness, on the real SQL repository with an injected clock: a running job whose runner
keeps silent is taken over only once its heartbeat is older than the runner's `stale_after`
(server.job_stale_after) plus the retry delay of its attempt; never earlier, and by one runner."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.helpers.clocks import ManualClock
from tests.helpers.cloud import migrated_engine, seed_data_dir

from stratuslab.core.entities import Job
from stratuslab.persistence.uow import SqlUnitOfWorkFactory
from stratuslab.services.jobs import JobRunner

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
FIRST_RETRY_DELAY = timedelta(seconds=5)  # documented: 5 s, doubling, at most 5 min


@pytest.fixture
def uow(tmp_path: Path, template_db: Path) -> Iterator[SqlUnitOfWorkFactory]:
    engine = migrated_engine(tmp_path, template_db)
    yield SqlUnitOfWorkFactory(engine)
    engine.dispose()


def _claimed_by_a_runner_that_dies(uow: SqlUnitOfWorkFactory) -> int:
    with uow() as u:
        job = u.jobs.add(Job(None, "noop", "admin"))
        u.commit()
    with uow() as u:  # runner "dead" claims it at T0 and is never heard of again
        claimed = u.jobs.claim_next("dead", T0, T0 - timedelta(seconds=10))
        u.commit()
    assert claimed is not None and claimed.id == job.id
    return int(job.id or 0)


@pytest.mark.parametrize("stale_after", [timedelta(seconds=3), timedelta(seconds=30)])
def test_a_silent_runners_job_is_taken_over_only_after_stale_after(
    uow: SqlUnitOfWorkFactory, stale_after: timedelta
) -> None:
    job_id = _claimed_by_a_runner_that_dies(uow)
    ran: list[int] = []
    clock = ManualClock(T0)
    other = JobRunner(uow, clock, {"noop": lambda job: ran.append(job.id or 0)},
                      workers=1, name="other", stale_after=stale_after)
    due = T0 + stale_after + FIRST_RETRY_DELAY
    for moment in (T0, T0 + stale_after, due - timedelta(seconds=1)):
        clock.t = moment
        assert other.run_once() is False, f"taken over at {moment - T0} (due after {due - T0})"
    assert ran == []
    clock.t = due + timedelta(seconds=1)
    assert other.run_once() is True
    assert ran == [job_id]
    assert other.run_once() is False  # done: nobody runs it again
    with uow(readonly=True) as u:
        assert u.jobs.get(job_id).state == "done"  # type: ignore[union-attr]


def test_the_setting_reaches_the_runner(tmp_path: Path, template_db: Path) -> None:
    from tests.helpers.cloud import make_settings

    from stratuslab.bootstrap import build_cloud

    seed_data_dir(tmp_path, template_db)
    cloud = build_cloud(make_settings(tmp_path, server={"job_stale_after": "90s"}))
    try:
        assert cloud.runner.stale_after == timedelta(seconds=90)
    finally:
        cloud.stop()
