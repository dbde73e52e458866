"""Attack: a request whose job crashes (or hangs and is killed with) the server every time it
runs — the job was reclaimed after every restart and run again without end, and the VM it served
stayed in a transitional state forever.

Interrupted jobs are retried with a growing delay, at most `max_attempts` times; the attempt after
that fails the job with the reason, and the VM enters the failure twin of its state with that
reason (where `recover` applies)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from stratuslab.bootstrap import Cloud
from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import Job, Principal
from stratuslab.services.jobs import JobRunner


class ServerDied(BaseException):
    """What the handler does to the process: nothing after it runs (no outcome recorded)."""


class Clock:
    def __init__(self) -> None:
        self.t = datetime(2026, 12, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.t


def crash_loop(cloud: Cloud, clock: Clock, runner: JobRunner, job_id: int) -> int:
    """Run the job again and again as restarted servers would; how many times it ran."""
    runs = 0
    for _ in range(200):  # ten minutes of simulated time per round, far beyond every backoff
        try:
            if runner.run_once():
                runs += 1
        except ServerDied:
            runs += 1
        clock.t += timedelta(seconds=3)
        with cloud.runner.uow() as uow:
            job = uow.jobs.get(job_id)
        assert job is not None
        if job.state == "failed":
            return runs
    return runs


def test_job_that_kills_the_server_each_time_ends_failed_with_the_reason(cloud: Cloud) -> None:
    clock, ran = Clock(), []

    def poison(job: Job) -> None:
        ran.append(clock.t)
        raise ServerDied

    with cloud.runner.uow() as uow:
        job = uow.jobs.add(Job(None, "poison", "admin", created_at=clock.t, updated_at=clock.t))
        uow.commit()
    runner = JobRunner(cloud.runner.uow, clock, {"poison": poison}, max_attempts=4)
    assert crash_loop(cloud, clock, runner, job.id or 0) == 5  # 4 attempts, then the verdict
    assert len(ran) == 4
    gaps = [b - a for a, b in zip(ran, ran[1:], strict=False)]
    assert gaps == sorted(gaps) and gaps[-1] > gaps[0]  # each retry waits longer
    with cloud.runner.uow() as uow:
        failed = uow.jobs.get(job.id or 0)
    assert failed is not None and failed.state == "failed"
    assert "gave up after 4 attempts" in (failed.error or "")


def test_vm_of_an_abandoned_job_is_left_in_a_failure_state_with_the_reason(
    cloud: Cloud, admin: Principal, tmp_path: Path
) -> None:
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 4096)
    image = cloud.images.register(admin, "base", str(disk))
    [(vm, job)] = cloud.compute.run(admin, RunInstance(image_id=image.id or 0))
    clock = Clock()

    def dies(job: Job) -> None:
        raise ServerDied

    runner = JobRunner(cloud.runner.uow, clock, {}, default=dies, max_attempts=2,
                       default_give_up=cloud.runner.default_give_up)
    crash_loop(cloud, clock, runner, job.id or 0)
    shown = cloud.compute.get(admin, vm.id or 0)
    assert shown.state == "failed"
    assert "gave up after 2 attempts" in (shown.error or "")
