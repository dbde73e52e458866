"""No silent skips: with STRATUSLAB_FAIL_ON_SKIP=1 (scripts/test.sh sets it) the run fails when a
test is skipped for a reason that tests/skip-allowlist.toml does not list.

A pytest plugin loaded by tests/conftest.py.  Every skip reason is matched against the
allow-list's regular expressions; the summary prints allowed skips with their `why` and the
others as errors, and the session's exit status becomes 1.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

ALLOWLIST = Path(__file__).resolve().parents[1] / "skip-allowlist.toml"
ENV = "STRATUSLAB_FAIL_ON_SKIP"


def load_allowlist(path: Path = ALLOWLIST, *, ci: bool | None = None
                   ) -> list[tuple[re.Pattern[str], str]]:  # fmt: skip
    """The allowed skips; in CI (CI=true) without the entries marked `outside_ci_only`."""
    in_ci = os.environ.get("CI") == "true" if ci is None else ci
    entries = tomllib.loads(path.read_text()).get("allow", [])
    return [(re.compile(e["match"]), " ".join(e["why"].split())) for e in entries
            if not (in_ci and e.get("outside_ci_only", False))]


def reason_of(report: pytest.TestReport) -> str:
    longrepr: Any = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def classify(skips: list[tuple[str, str]], allow: list[tuple[re.Pattern[str], str]]
             ) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:  # fmt: skip
    """Split (test id, reason) pairs into allowed (id, reason, why) and refused (id, reason)."""
    allowed, refused = [], []
    for nodeid, reason in skips:
        why = next((w for pattern, w in allow if pattern.search(reason)), None)
        if why is None:
            refused.append((nodeid, reason))
        else:
            allowed.append((nodeid, reason, why))
    return allowed, refused


class SkipGuard:
    def __init__(self) -> None:
        self.skips: list[tuple[str, str]] = []
        self.refused: list[tuple[str, str]] = []

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            self.skips.append((report.nodeid, reason_of(report)))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        allowed, self.refused = classify(self.skips, load_allowlist())
        if self.refused and session.exitstatus == 0:
            session.exitstatus = 1

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        allowed, refused = classify(self.skips, load_allowlist())
        if allowed:
            terminalreporter.section("allowed skips (tests/skip-allowlist.toml)")
            for nodeid, reason, why in allowed:
                terminalreporter.line(f"{nodeid}: {reason}  [allowed: {why}]")
        if refused:
            terminalreporter.section("SKIPS NOT ALLOWED (the run fails)", red=True)
            for nodeid, reason in refused:
                terminalreporter.line(f"{nodeid}: {reason}", red=True)
            terminalreporter.line("install what is missing (scripts/setup.sh), or add the reason "
                                  "with why to tests/skip-allowlist.toml")


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(ENV) == "1":
        config.pluginmanager.register(SkipGuard(), "stratuslab-skip-guard")
