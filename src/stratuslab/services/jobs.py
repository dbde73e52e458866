"""The job runner: worker threads that claim persisted jobs and carry them out.

Jobs are claimed with a compare-and-swap (SKIP LOCKED on PostgreSQL), kept alive by heartbeats,
and reclaimed by any runner when their heartbeat goes stale — which is how a job interrupted by
a server crash resumes after the restart.  Handlers are idempotent, so running a step twice is
harmless.

A job that keeps being interrupted (it crashes or hangs the server each time) is not retried
without end: each new attempt waits longer (`retry_delay`: 5 s doubling, at most 5 min, on top
of the staleness), and the attempt after `max_attempts` marks the job `failed` with the reason
instead of running it; the kind's give-up hook (VM jobs: the VM enters the failure twin of its
state with that reason) lets the user see and act on it.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import timedelta

from stratuslab.core.context import bound_request_id
from stratuslab.core.entities import Job, JobState
from stratuslab.core.errors import CloudError
from stratuslab.core.ports import Clock, UnitOfWorkFactory
from stratuslab.services.periodic import PeriodicWorker

log = logging.getLogger(__name__)

Handler = Callable[[Job], None]
GiveUp = Callable[[Job, str], None]
MAX_ATTEMPTS = 5


def retry_delay(attempts: int) -> timedelta:
    """Extra wait before attempt `attempts + 1` of an interrupted job: 5 s, 10 s, 20 s ... 5 min."""
    return timedelta(seconds=min(300.0, 5.0 * 2 ** max(0, attempts - 1)))


class JobRunner:
    HEARTBEAT = 2.0
    POLL = 0.5  # a worker looks for jobs this often when nobody wakes it
    STALE_AFTER = timedelta(seconds=10)

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        handlers: Mapping[str, Handler],
        *,
        default: Handler | None = None,
        workers: int = 4,
        name: str = "runner",
        max_attempts: int = MAX_ATTEMPTS,
        give_up: Mapping[str, GiveUp] | None = None,
        default_give_up: GiveUp | None = None,
        stale_after: timedelta | None = None,
        hosts: Collection[str] | None = None,
    ) -> None:
        self.uow = uow
        # a running job without a heartbeat for this long belongs to a runner that stopped
        self.stale_after = stale_after if stale_after is not None else self.STALE_AFTER
        self.clock = clock
        self.handlers = dict(handlers)
        self.default = default
        self.workers = workers
        self.max_attempts = max_attempts
        self.give_up = dict(give_up or {})
        self.default_give_up = default_give_up
        self._hosts = hosts  # None: any VM's jobs; read at each claim (enrolled hosts join)
        self.runner_id = f"{name}-{uuid.uuid4().hex[:8]}"
        self._active: set[int] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._workers = [
            PeriodicWorker(f"job-worker-{i}", self.drain, interval=self.POLL, run_first=True,
                           join_timeout=10.0)
            for i in range(workers)
        ]
        self._heartbeat = PeriodicWorker("job-heartbeat", self.beat, interval=self.HEARTBEAT)

    @property
    def hosts(self) -> frozenset[str] | None:
        """The hosts whose VMs' jobs this runner claims, read now (None: any VM's)."""
        return None if self._hosts is None else frozenset(self._hosts)

    def wake(self) -> None:
        for worker in self._workers:
            worker.wake()

    def start(self) -> None:
        self._stopping.clear()
        for worker in (*self._workers, self._heartbeat):
            worker.start()

    def stop(self) -> None:
        self._stopping.set()  # workers finish the job in hand and claim no other
        for worker in (*self._workers, self._heartbeat):
            worker.stop()

    def drain(self) -> None:
        """Run ready jobs until none is left (one round of a worker)."""
        while not self._stopping.is_set() and self.run_once():
            pass

    def run_once(self) -> bool:
        """Claim and run one job; False when none was ready.  (Also used by tests.)"""
        now = self.clock.now()
        with self.uow() as uow:
            job = uow.jobs.claim_next(self.runner_id, now, now - self.stale_after, retry_delay,
                                      hosts=self.hosts)
            uow.commit()
        if job is None:
            return False
        if job.attempts > self.max_attempts:
            self._abandon(job)
            return True
        with self._lock:
            self._active.add(job.id or 0)
        try:
            with bound_request_id(job.request_id or f"job-{job.id}"):
                log.info("job %s (%s) started", job.id, job.kind)
                self._execute(job)
        finally:
            with self._lock:
                self._active.discard(job.id or 0)
        return True

    def _execute(self, job: Job) -> None:
        handler = self.handlers.get(job.kind, self.default)
        error = None
        try:
            if handler is None:
                raise CloudError(f"no handler for job kind {job.kind}")
            handler(job)
        except CloudError as exc:
            error = exc.full_message
        except Exception as exc:
            log.exception("job %s (%s) crashed", job.id, job.kind)
            error = f"internal error: {type(exc).__name__}: {exc}"
        with self.uow() as uow:
            current = uow.jobs.get(job.id or 0)
            if current is None or current.runner != self.runner_id:
                return  # another runner took it over; its outcome wins
            current.state = (JobState.FAILED if error else JobState.DONE).value
            current.error = error
            current.updated_at = self.clock.now()
            uow.jobs.update(current)
            uow.commit()
        log.info("job %s (%s) %s%s", job.id, job.kind, current.state, f": {error}" if error else "")

    def _abandon(self, job: Job) -> None:
        """The attempt after the last: fail the job with the reason instead of running it."""
        reason = (f"gave up after {job.attempts - 1} attempts: each one was interrupted before "
                  f"it finished (the server stopped or crashed while running it; last step: "
                  f"{job.step or 'none'})")
        log.error("job %s (%s): %s", job.id, job.kind, reason)
        hook = self.give_up.get(job.kind, self.default_give_up)
        if hook is not None:
            try:
                hook(job, reason)
            except Exception:
                log.exception("job %s (%s): give-up hook failed", job.id, job.kind)
        with self.uow() as uow:
            current = uow.jobs.get(job.id or 0)
            if current is None or current.runner != self.runner_id:
                return
            current.state, current.error = JobState.FAILED.value, reason
            current.updated_at = self.clock.now()
            uow.jobs.update(current)
            uow.commit()

    def beat(self) -> None:
        """Heartbeats of the jobs this runner is running (one round of the heartbeat worker)."""
        with self._lock:
            active = list(self._active)
        if active:
            with self.uow() as uow:
                uow.jobs.heartbeat(self.runner_id, active, self.clock.now())
                uow.commit()
