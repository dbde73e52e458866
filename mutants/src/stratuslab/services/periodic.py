"""One background loop for every periodic task: start, stop, interval, jitter, wake-up, the
exception of a failed round logged (the loop goes on), and a health record.

The job runner's workers and heartbeat, the reconciler, the VM quarantine purger and the volume
quarantine purger are all `PeriodicWorker`s; none of them writes its own thread loop.
Standard library only.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerHealth:
    """What a worker reports about itself (wall-clock times from time.time())."""

    name: str
    running: bool
    rounds: int
    failures: int
    last_round_at: float | None
    last_error: str | None  # of the latest round; None once a round succeeds again


class PeriodicWorker:
    """Calls `tick` in a daemon thread every `interval` seconds (plus up to `jitter` seconds).

    `run_first`: the first round runs at once instead of after one interval.  `wake()` starts the
    next round now.  A round that raises is logged with its traceback and counted; the loop goes
    on.  `stop()` waits for the round in progress to end (at most `join_timeout` seconds).
    """

    def __init__(
        self, name: str, tick: Callable[[], object], *, interval: float, jitter: float = 0.0,
        run_first: bool = False, join_timeout: float = 5.0,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"worker {name}: the interval must be positive, not {interval}")
        self.name = name
        self.interval = interval
        self._tick = tick
        self._jitter = jitter
        self._run_first = run_first
        self._join_timeout = join_timeout
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._rounds = 0
        self._failures = 0
        self._last_at: float | None = None
        self._last_error: str | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(self._join_timeout)

    def wake(self) -> None:
        self._wake.set()

    def run_once(self) -> None:
        """One round now, in the caller's thread, with the loop's logging and accounting."""
        try:
            self._tick()
        except Exception as exc:
            self._failures += 1
            self._last_error = f"{type(exc).__name__}: {exc}"
            log.exception("worker %s: round failed", self.name)
        else:
            self._last_error = None
        finally:
            self._rounds += 1
            self._last_at = time.time()

    def health(self) -> WorkerHealth:
        running = self._thread is not None and self._thread.is_alive()
        return WorkerHealth(self.name, running, self._rounds, self._failures, self._last_at,
                            self._last_error)

    def _pause(self) -> float:
        return self.interval + (random.uniform(0, self._jitter) if self._jitter > 0 else 0.0)  # spreads rounds only

    def _loop(self) -> None:
        if not self._run_first:
            self._wait()
        while not self._stop.is_set():
            self.run_once()
            self._wait()

    def _wait(self) -> None:
        self._wake.wait(self._pause())
        self._wake.clear()
