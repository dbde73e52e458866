"""A clock the test moves by hand (services take clocks by constructor)."""

from __future__ import annotations

from datetime import datetime


class ManualClock:
    def __init__(self, now: datetime) -> None:
        self.t = now

    def now(self) -> datetime:
        return self.t
