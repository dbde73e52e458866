"""Password-guessing defences shared by every API: backoff per user and per address, and a
dummy hash so an unknown user costs what a wrong password costs.

`LoginThrottle` lives in the one authenticator chain, so REST, XML-RPC, OCCI, `/pswd` and the
registration admin page count failures in the same place.  After `user_free` failures of a user
name, or `address_free` from an address, that key is locked for `base` seconds, doubling at each
further failure up to `ceiling`; a success clears the user's count (not the address's: one good
account must not unlock guessing at others).  While locked, even a correct password is
refused, with the time to wait.  Memory is bounded: idle keys are forgotten.

`DummyCheck` verifies the password against a fixed argon2 hash of a random secret, for the
paths where no real hash was checked.  Imports argon2-cffi and core only.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import Argon2Error

from stratuslab.core.errors import AuthenticationFailed

Monotonic = Callable[[], float]


@dataclass
class _Record:
    failures: int = 0
    locked_until: float = 0.0
    last: float = 0.0


@dataclass(frozen=True, slots=True)
class ThrottleConfig:
    user_free: int = 5  # failures of one user name that pause it
    address_free: int = 20  # failures from one address that pause it (people share addresses)
    base: float = 1.0  # seconds of the first lock
    ceiling: float = 900.0  # longest lock
    max_keys: int = 100_000


class LoginThrottle:
    def __init__(self, clock: Monotonic, config: ThrottleConfig | None = None):
        self.clock = clock
        self.config = config or ThrottleConfig()
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    @staticmethod
    def keys(user: str | None, source: str) -> tuple[str, ...]:
        return ((f"user:{user}",) if user else ()) + (f"addr:{source}",)

    def check(self, user: str | None, source: str) -> None:
        """Raise AuthenticationFailed (naming the wait) when the user or address is locked."""
        now = self.clock()
        with self._lock:
            waits = [(r.locked_until - now, key) for key in self.keys(user, source)
                     if (r := self._records.get(key)) and r.locked_until > now]
        if waits:
            wait, key = max(waits)
            what = "this user" if key.startswith("user:") else f"address {source}"
            raise AuthenticationFailed(
                f"too many failed logins for {what}; password login is paused",
                hint=f"wait {max(1, round(wait))} seconds and try again",
            )

    def failed(self, user: str | None, source: str) -> None:
        now = self.clock()
        cfg = self.config
        with self._lock:
            for key in self.keys(user, source):
                record = self._records.setdefault(key, _Record())
                record.failures += 1
                record.last = now
                limit = cfg.user_free if key.startswith("user:") else cfg.address_free
                over = record.failures - limit + 1  # paused from the limit-th failure on
                if over > 0:
                    record.locked_until = now + min(cfg.ceiling, cfg.base * 2 ** min(over - 1, 30))
            self._forget_idle(now)

    def succeeded(self, user: str | None, source: str) -> None:
        with self._lock:
            if user:
                self._records.pop(f"user:{user}", None)

    def _forget_idle(self, now: float) -> None:
        if len(self._records) <= self.config.max_keys:
            return
        idle = [k for k, r in self._records.items()
                if r.locked_until <= now and now - r.last > self.config.ceiling]
        for key in idle or list(self._records)[: len(self._records) // 2]:
            del self._records[key]


class DummyCheck:
    """One argon2 verification that always fails: what an unknown user name costs."""

    def __init__(self, hasher: PasswordHasher | None = None):
        self.hasher = hasher or PasswordHasher()
        self._hash = self.hasher.hash(secrets.token_urlsafe(16))

    def __call__(self, password: str) -> None:
        try:
            self.hasher.verify(self._hash, password)
        except Argon2Error:
            pass
