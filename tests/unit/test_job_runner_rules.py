"""The job runner's rules (services/jobs.py) on the real SQL repository with an injected clock:
the retry-delay table (written out here), outcomes of a run (done, the user's error, an internal
error, no handler), giving up after the last attempt (hook by kind, default hook, a failing
hook), a job taken over meanwhile keeping the other runner's outcome, heartbeats (the claim's
and the beats'), a runner for some hosts leaving other hosts' VM jobs, and a started runner's
threads (the first round at once, the heartbeat thread beating for the job in hand)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.helpers.clocks import ManualClock
from tests.helpers.cloud import migrated_engine
from tests.helpers.waits import wait_until

from stratuslab.core.entities import Image, Job, Vm
from stratuslab.core.errors import Conflict
from stratuslab.persistence.uow import SqlUnitOfWorkFactory
from stratuslab.services.jobs import JobRunner, retry_delay

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def uow(tmp_path: Path, template_db: Path) -> Iterator[SqlUnitOfWorkFactory]:
    engine = migrated_engine(tmp_path, template_db)
    yield SqlUnitOfWorkFactory(engine)
    engine.dispose()


def queue(uow: SqlUnitOfWorkFactory, kind: str = "noop", step: str | None = None) -> int:
    with uow() as u:
        job = u.jobs.add(Job(None, kind, "alice", step=step))
        u.commit()
    return int(job.id or 0)


def stored(uow: SqlUnitOfWorkFactory, job_id: int) -> Job:
    with uow(readonly=True) as u:
        job = u.jobs.get(job_id)
    assert job is not None
    return job


def runner(uow: SqlUnitOfWorkFactory, clock: ManualClock, **kw: object) -> JobRunner:
    return JobRunner(uow, clock, kw.pop("handlers", {}), workers=1, **kw)  # type: ignore[arg-type]


def test_the_retry_delay_doubles_from_five_seconds_up_to_five_minutes() -> None:
    table = {0: 5, 1: 5, 2: 10, 3: 20, 4: 40, 5: 80, 6: 160, 7: 300, 8: 300, 20: 300}
    assert {n: retry_delay(n).total_seconds() for n in table} == table


def test_defaults_of_a_runner(uow: SqlUnitOfWorkFactory) -> None:
    r = JobRunner(uow, ManualClock(T0), {}, name="front-1")
    assert r.stale_after == timedelta(seconds=10)
    assert r.max_attempts == 5 and r.workers == 4 and r.hosts is None
    assert r.runner_id.startswith("front-1-") and len(r.runner_id) == len("front-1-") + 8
    assert JobRunner(uow, ManualClock(T0), {}).runner_id.startswith("runner-")
    assert JobRunner(uow, ManualClock(T0), {}, hosts=["n1"]).hosts == frozenset({"n1"})


def test_a_run_ends_done_or_failed_with_the_reason(uow: SqlUnitOfWorkFactory) -> None:
    def refuse(job: Job) -> None:
        raise Conflict("volume 7 is attached", hint="detach it first")

    def crash(job: Job) -> None:
        raise ValueError("boom")

    clock = ManualClock(T0)
    ran: list[str] = []
    r = runner(uow, clock, handlers={"ok": lambda job: ran.append(job.kind), "refuse": refuse,
                                     "crash": crash})
    ids = {kind: queue(uow, kind) for kind in ("ok", "refuse", "crash", "nobody")}
    clock.t = T0 + timedelta(minutes=1)
    while r.run_once():
        pass
    assert ran == ["ok"]
    outcome = {k: (stored(uow, i).state, stored(uow, i).error) for k, i in ids.items()}
    assert outcome == {
        "ok": ("done", None),
        "refuse": ("failed", "volume 7 is attached; detach it first"),
        "crash": ("failed", "internal error: ValueError: boom"),
        "nobody": ("failed", "no handler for job kind nobody"),
    }
    assert stored(uow, ids["ok"]).updated_at == clock.t
    assert r.run_once() is False


def test_the_default_handler_takes_kinds_without_their_own(uow: SqlUnitOfWorkFactory) -> None:
    seen: list[str] = []
    r = runner(uow, ManualClock(T0), handlers={"mine": lambda job: seen.append("mine")},
               default=lambda job: seen.append(f"default:{job.kind}"))
    queue(uow, "mine")
    queue(uow, "other")
    assert r.run_once() and r.run_once() and not r.run_once()
    assert seen == ["mine", "default:other"]


@pytest.mark.parametrize("max_attempts,runs", [(1, True), (0, False)])
def test_the_attempt_after_the_last_fails_the_job_instead_of_running_it(
    uow: SqlUnitOfWorkFactory, max_attempts: int, runs: bool
) -> None:
    ran: list[int] = []
    hooked: list[tuple[int, str]] = []
    r = runner(uow, ManualClock(T0), handlers={"noop": lambda job: ran.append(job.id or 0)},
               max_attempts=max_attempts,
               give_up={"noop": lambda job, why: hooked.append((job.id or 0, why))})
    job_id = queue(uow, step="copy")
    assert r.run_once() is True
    if runs:
        assert ran == [job_id] and hooked == [] and stored(uow, job_id).state == "done"
        return
    reason = ("gave up after 0 attempts: each one was interrupted before it finished (the "
              "server stopped or crashed while running it; last step: copy)")
    assert ran == [] and hooked == [(job_id, reason)]
    assert (stored(uow, job_id).state, stored(uow, job_id).error) == ("failed", reason)


def test_giving_up_calls_the_default_hook_and_survives_a_failing_one(
    uow: SqlUnitOfWorkFactory, caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    def broken(job: Job, why: str) -> None:
        raise RuntimeError("hook broke")

    r = runner(uow, ManualClock(T0), max_attempts=0, give_up={"vm": broken},
               default_give_up=lambda job, why: seen.append(f"{job.kind}: {why}"))
    other, vm = queue(uow, "image"), queue(uow, "vm")
    assert r.run_once() and r.run_once()
    assert seen == ["image: gave up after 0 attempts: each one was interrupted before it "
                    "finished (the server stopped or crashed while running it; last step: none)"]
    assert stored(uow, other).state == stored(uow, vm).state == "failed"
    assert f"job {vm} (vm): give-up hook failed" in [r.getMessage() for r in caplog.records]


def test_a_job_taken_over_meanwhile_keeps_the_other_runners_outcome(
    uow: SqlUnitOfWorkFactory,
) -> None:
    def taken_over(job: Job) -> None:
        with uow() as u:
            current = u.jobs.get(job.id or 0)
            assert current is not None
            current.runner = "someone-else"
            u.jobs.update(current)
            u.commit()
        raise Conflict("too late")

    r = runner(uow, ManualClock(T0), handlers={"noop": taken_over})
    job_id = queue(uow)
    assert r.run_once() is True
    job = stored(uow, job_id)
    assert (job.state, job.error, job.runner) == ("running", None, "someone-else")


def test_heartbeats_touch_only_the_jobs_in_hand(uow: SqlUnitOfWorkFactory) -> None:
    clock = ManualClock(T0)
    beats: list[datetime | None] = []

    def slow(job: Job) -> None:
        beats.append(stored(uow, job.id or 0).heartbeat)  # the claim's, at the time of the claim
        clock.t = T0 + timedelta(seconds=7)
        r.beat()
        beats.append(stored(uow, job.id or 0).heartbeat)

    r = runner(uow, clock, handlers={"noop": slow})
    r.beat()  # nothing in hand: nothing written
    job_id = queue(uow)
    assert r.run_once() is True
    assert beats == [T0, T0 + timedelta(seconds=7)]
    assert stored(uow, job_id).state == "done"


def test_the_log_names_each_job_its_kind_and_outcome(uow: SqlUnitOfWorkFactory,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    def crash(job: Job) -> None:
        raise ValueError("boom")

    caplog.set_level(logging.INFO, logger="stratuslab.services.jobs")
    r = runner(uow, ManualClock(T0), handlers={"ok": lambda job: None, "crash": crash})
    ok_id, crash_id = queue(uow, "ok"), queue(uow, "crash")
    while r.run_once():
        pass
    gone = runner(uow, ManualClock(T0), max_attempts=0)
    given_up = queue(uow, "vm")
    gone.run_once()
    lines = [(rec.levelname, rec.getMessage()) for rec in caplog.records]
    assert lines == [
        ("INFO", f"job {ok_id} (ok) started"), ("INFO", f"job {ok_id} (ok) done"),
        ("INFO", f"job {crash_id} (crash) started"),
        ("ERROR", f"job {crash_id} (crash) crashed"),
        ("INFO", f"job {crash_id} (crash) failed: internal error: ValueError: boom"),
        ("ERROR", f"job {given_up} (vm): gave up after 0 attempts: each one was interrupted "
                  "before it finished (the server stopped or crashed while running it; last "
                  "step: none)"),
    ]


def test_a_job_taken_over_while_giving_up_keeps_the_other_runners_outcome(
    uow: SqlUnitOfWorkFactory,
) -> None:
    def taken_over(job: Job, why: str) -> None:
        with uow() as u:
            current = u.jobs.get(job.id or 0)
            assert current is not None
            current.runner = "someone-else"
            u.jobs.update(current)
            u.commit()

    r = runner(uow, ManualClock(T0), max_attempts=0, give_up={"noop": taken_over})
    job_id = queue(uow)
    assert r.run_once() is True
    job = stored(uow, job_id)
    assert (job.state, job.error, job.runner) == ("running", None, "someone-else")


def test_a_worker_round_drains_the_ready_jobs_unless_the_runner_stops(
    uow: SqlUnitOfWorkFactory,
) -> None:
    ran: list[int] = []
    r = runner(uow, ManualClock(T0), handlers={"noop": lambda job: ran.append(job.id or 0)})
    first, second = queue(uow), queue(uow)
    r.drain()
    assert ran == [first, second]
    third = queue(uow)
    r.stop()  # the job in hand ends, no other is claimed (its workers never started here)
    r.drain()
    assert ran == [first, second] and stored(uow, third).state == "queued"


def test_a_started_runner_takes_ready_jobs_at_once_and_beats_for_them_in_its_threads(
    uow: SqlUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # an hour between polls and nobody wakes the runner: only the round run at start can take
    # the job queued before it; the heartbeat thread beats often, so its beat comes soon
    monkeypatch.setattr(JobRunner, "POLL", 3600.0)
    monkeypatch.setattr(JobRunner, "HEARTBEAT", 0.01)
    clock = ManualClock(T0)
    in_hand: list[tuple[str, set[str]]] = []  # (the handler's thread, every thread's name)

    def held(job: Job) -> None:
        clock.t = T0 + timedelta(seconds=7)  # the claim wrote T0; a beat writes the time now
        wait_until(lambda: stored(uow, job.id or 0).heartbeat == clock.t, timeout=20,
                   message=lambda: "the heartbeat thread never beat for the job in hand: "
                                   f"{stored(uow, job.id or 0).heartbeat}")
        # read once the beat came: the heartbeat thread starts after the workers
        in_hand.append((threading.current_thread().name,
                        {t.name for t in threading.enumerate()}))

    r = runner(uow, clock, handlers={"noop": held})
    job_id = queue(uow)
    r.start()
    try:
        wait_until(lambda: stored(uow, job_id).state in ("done", "failed"), timeout=60,
                   message=lambda: f"the job was not run at start: {stored(uow, job_id)}")
    finally:
        r.stop()
    job = stored(uow, job_id)
    assert (job.state, job.error, job.heartbeat) == ("done", None, T0 + timedelta(seconds=7))
    [(thread, threads)] = in_hand
    assert thread == "job-worker-0" and {"job-worker-0", "job-heartbeat"} <= threads


def test_a_runner_for_some_hosts_leaves_the_jobs_of_vms_on_other_hosts(
    uow: SqlUnitOfWorkFactory,
) -> None:
    with uow() as u:
        image = u.images.add(Image(None, "ttylinux", "alice", "users", "/x.qcow2", "qcow2", 1,
                                   "0" * 40))
        vms = {h: u.vms.add(Vm(None, h, "alice", "users", "pending", image.id or 0, "m1.small",
                               1, 64, host=h)).id for h in ("n1", "n2")}
        jobs = {h: u.jobs.add(Job(None, "vm", "alice", vm_id=vms[h])).id for h in vms}
        u.commit()
    ran: list[int | None] = []
    r = runner(uow, ManualClock(T0), handlers={"vm": lambda job: ran.append(job.vm_id)},
               hosts={"n1"})
    while r.run_once():
        pass
    assert ran == [vms["n1"]]
    assert stored(uow, jobs["n2"] or 0).state == "queued"
