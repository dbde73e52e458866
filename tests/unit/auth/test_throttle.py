"""LoginThrottle on a hand-driven clock: pauses from the limit-th failure, doubling up to the
ceiling; a success clears the user's count but never the address's; idle keys are forgotten."""

from __future__ import annotations

import pytest

from stratuslab.core.errors import AuthenticationFailed
from stratuslab.services.auth.throttle import DummyCheck, LoginThrottle, ThrottleConfig


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_pause_starts_at_the_limit_and_doubles_up_to_the_ceiling() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock, ThrottleConfig(user_free=3, address_free=100, base=2,
                                                   ceiling=10))
    for _ in range(2):
        throttle.failed("ann", "10.0.0.1")
    throttle.check("ann", "10.0.0.1")  # two failures: not yet
    waits = []
    for _ in range(4):
        throttle.failed("ann", "10.0.0.1")
        with pytest.raises(AuthenticationFailed, match="too many failed logins for this user") \
                as paused:
            throttle.check("ann", "10.0.0.1")
        waits.append(paused.value.hint)
    assert waits == ["wait 2 seconds and try again", "wait 4 seconds and try again",
                     "wait 8 seconds and try again", "wait 10 seconds and try again"]
    clock.now += 10
    throttle.check("ann", "10.0.0.1")  # the pause ends; the next failure pauses again
    throttle.check("bob", "10.0.0.2")


def test_success_clears_the_user_but_not_the_address() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock, ThrottleConfig(user_free=2, address_free=3, base=60))
    throttle.failed("ann", "10.0.0.1")
    throttle.succeeded("ann", "10.0.0.1")
    throttle.failed("ann", "10.0.0.1")
    throttle.check("ann", "10.0.0.1")  # the count restarted after the success
    throttle.failed("cid", "10.0.0.1")
    with pytest.raises(AuthenticationFailed, match="address 10.0.0.1"):
        throttle.check("dora", "10.0.0.1")
    throttle.check("dora", "10.0.0.9")


def test_idle_keys_are_forgotten_so_memory_stays_bounded() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock, ThrottleConfig(max_keys=50, ceiling=5))
    for i in range(200):
        clock.now += 10
        throttle.failed(f"user{i}", f"10.1.{i // 250}.{i % 250}")
    assert len(throttle._records) <= 52


def test_dummy_check_never_accepts() -> None:
    check = DummyCheck()
    assert check("anything") is None
