"""Polling for a state: every wait has a deadline and says what it waited for."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A state a test waited for did not come before its deadline."""


def wait_until(check: Callable[[], T], *, timeout: float, message: str | Callable[[], str],
               interval: float = 0.1) -> T:
    """Call `check` until it returns something truthy and return that; fail after `timeout` s.

    `message` says what was awaited (a callable is evaluated at the deadline, to show the last
    state seen).  The interval is only the polling period: no test outcome depends on it.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise WaitTimeout(f"after {timeout:g} s: {text}")
        time.sleep(interval)


def finished_job(get: Callable[[str], dict[str, object]], job: dict[str, object], *,
                 timeout: float = 120) -> dict[str, object]:
    """The REST job `job` once it is done or failed (`get(path)` answers the JSON of a GET)."""
    path = f"/api/v1/jobs/{job['id']}"
    return wait_until(lambda: (j := get(path))["state"] in ("done", "failed") and j,
                      timeout=timeout, message=lambda: f"job {job['id']} never ended: {get(path)}")
