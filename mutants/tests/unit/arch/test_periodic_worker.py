"""PeriodicWorker: the one background loop (rounds, wake-up, failures logged and counted,
stop).  No timing thresholds: waits are polls with a generous deadline."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest

from stratuslab.services.periodic import PeriodicWorker

DEADLINE = 30.0


def wait_for(what: str, condition: Callable[[], bool]) -> None:
    end = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_run_once_counts_rounds_and_keeps_the_last_error(caplog: pytest.LogCaptureFixture) -> None:
    outcomes = [RuntimeError("disk gone"), None]

    def tick() -> None:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    worker = PeriodicWorker("test-worker", tick, interval=3600)
    with caplog.at_level(logging.ERROR):
        worker.run_once()
    health = worker.health()
    assert (health.rounds, health.failures, health.last_error) == (1, 1, "RuntimeError: disk gone")
    assert "worker test-worker: round failed" in caplog.text and "disk gone" in caplog.text
    worker.run_once()
    health = worker.health()
    assert (health.rounds, health.failures, health.last_error) == (2, 1, None)
    assert not health.running


def test_wake_starts_a_round_now_and_a_failing_round_does_not_end_the_loop() -> None:
    rounds: list[int] = []

    def tick() -> None:
        rounds.append(1)
        if len(rounds) == 1:
            raise RuntimeError("first round fails")

    worker = PeriodicWorker("test-wake", tick, interval=3600)  # only wake() can start rounds
    worker.start()
    try:
        assert worker.health().running
        worker.wake()
        wait_for("the first round", lambda: len(rounds) >= 1)
        wait_for("the first round to be accounted", lambda: worker.health().rounds >= 1)
        worker.wake()
        wait_for("the second round", lambda: len(rounds) >= 2)
    finally:
        worker.stop()
    assert not worker.health().running
    assert worker.health().failures == 1


def test_run_first_runs_at_start_and_stop_waits_for_the_round_in_progress() -> None:
    entered, release, done = threading.Event(), threading.Event(), threading.Event()

    def tick() -> None:
        entered.set()
        release.wait(DEADLINE)
        done.set()

    worker = PeriodicWorker("test-first", tick, interval=3600, run_first=True,
                            join_timeout=DEADLINE)
    worker.start()
    assert entered.wait(DEADLINE)
    stopper = threading.Thread(target=worker.stop)
    stopper.start()
    release.set()
    stopper.join(DEADLINE)
    assert done.is_set() and not worker.health().running
    assert worker.health().rounds == 1


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="test-bad: the interval must be positive"):
        PeriodicWorker("test-bad", lambda: None, interval=0)
