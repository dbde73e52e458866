"""Rules of the test suite itself, checked on its source (no cloud is built here).

- A test module or conftest never imports another test module or a conftest: shared code lives
  in tests/helpers (fixtures shared across directories are pytest plugins loaded by
  tests/conftest.py), shared contract suites in tests/contract/*_contract.py.
- Every test asserts something: an `assert`, `pytest.raises`/`pytest.fail`, or a call of a
  helper whose name says it checks (assert_*, check_*, expect_*, wait_*, refused...).
- No sleep stands in for a state: `time.sleep`/`asyncio.sleep` only as the period of a polling
  loop (tests/helpers/waits.py `wait_until`), and a `while` loop that sleeps also reads a clock
  (it has a deadline).  No timing thresholds: an assertion outside a polling loop never compares
  a duration (anything computed from time.monotonic/time.time/perf_counter).  Exceptions are
  listed in SLEEP_OR_TIMING_ALLOWED with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent
CHECKING_PREFIXES = ("assert", "check", "expect", "wait", "refused", "must_", "verify")


def _modules() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "helpers" not in p.parts)


def _is_test_module(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last.startswith("test_") or last == "conftest"


def test_no_test_module_imports_another_test_module_or_a_conftest() -> None:
    found = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
                if node.module is None:
                    names = ["." + alias.name for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if (name.startswith("tests.") or name.startswith(".")) and _is_test_module(name):
                    found.append(f"{path.relative_to(TESTS.parent)}:{node.lineno} imports {name}")
    assert not found, ("move what is shared into tests/helpers (fixtures: a plugin listed in "
                       "tests/conftest.py pytest_plugins):\n" + "\n".join(found))


def _checks(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for node in ast.walk(fn):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name in ("raises", "fail", "warns") or name.lower().startswith(CHECKING_PREFIXES):
                return True
    return False


def _is_test(node: ast.AST) -> bool:
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")


def test_every_test_checks_something() -> None:
    found = []
    for path in _modules():
        tree = ast.parse(path.read_text(), str(path))
        bodies = [tree, *[n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]]
        for body in bodies:
            for node in body.body:  # type: ignore[attr-defined]
                if _is_test(node) and not _checks(node):
                    found.append(f"{path.relative_to(TESTS.parent)}:{node.lineno} {node.name}")
    assert not found, "tests that check nothing (add the assertion they mean):\n" + "\n".join(found)


def test_skip_allowlist_entries_say_why_and_unknown_skips_are_refused() -> None:
    from tests.helpers.skips import classify, load_allowlist

    allow = load_allowlist()
    assert allow and all(why for _pattern, why in allow)
    allowed, refused = classify(
        [("a", "this kernel lacks CONFIG_VLAN_8021Q (...)"),
         ("b", "slapd is not installed (run scripts/setup.sh)")], allow)
    assert [a[0] for a in allowed] == ["a"]
    assert refused == [("b", "slapd is not installed (run scripts/setup.sh)")]
    slow = [("c", "slow real-cloud-image test: run it with STRATUSLAB_SLOW_TESTS=1 ...")]
    assert classify(slow, load_allowlist(ci=False))[1] == []
    assert classify(slow, load_allowlist(ci=True))[1] == slow  # CI runs it


# "path::function" -> why a sleep or a timing comparison there is not synchronisation / a threshold
SLEEP_OR_TIMING_ALLOWED: dict[str, str] = {}
CLOCKS = {"monotonic", "monotonic_ns", "time", "time_ns", "perf_counter", "perf_counter_ns"}
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_LOOPS = (ast.While, ast.For, ast.AsyncFor)


def _module_call(node: ast.AST, names: set[str]) -> bool:
    """`time.X(...)` or `asyncio.X(...)` with X in names, or a bare `X(...)` (from time import X)."""
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    if isinstance(f, ast.Name):
        return f.id in names and f.id in ("sleep", "monotonic", "perf_counter")
    return (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name)
            and f.value.id in ("time", "asyncio") and f.attr in names)


def _own_nodes(scope: ast.AST) -> list[tuple[ast.AST, ast.AST | None]]:
    """The nodes of `scope` outside nested functions, each with its innermost enclosing loop."""
    found: list[tuple[ast.AST, ast.AST | None]] = []
    stack: list[tuple[ast.AST, ast.AST | None]] = [(c, None) for c in ast.iter_child_nodes(scope)]
    while stack:
        node, loop = stack.pop()
        found.append((node, loop))
        if isinstance(node, (*_SCOPES, ast.ClassDef)):
            continue
        inner = node if isinstance(node, _LOOPS) else loop
        stack.extend((c, inner) for c in ast.iter_child_nodes(node))
    return found


def _timed_names(nodes: list[tuple[ast.AST, ast.AST | None]]) -> set[str]:
    """Names assigned from a clock reading, or from another such name (t0, elapsed, ...)."""
    timed: set[str] = set()

    def reads_clock(expr: ast.AST) -> bool:
        return any(_module_call(n, CLOCKS) or (isinstance(n, ast.Name) and n.id in timed)
                   for n in ast.walk(expr))

    pairs: list[tuple[ast.AST, ast.AST]] = []
    for node, _loop in nodes:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if (isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
                        and len(target.elts) == len(node.value.elts)):
                    pairs += zip(target.elts, node.value.elts, strict=True)  # deadline, x = ..., ""
                else:
                    pairs.append((target, node.value))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and node.value is not None:
            pairs.append((node.target, node.value))
    grown = True
    while grown:
        grown = False
        for target, value in pairs:
            if reads_clock(value):
                for n in ast.walk(target):
                    if isinstance(n, ast.Name) and n.id not in timed:
                        timed.add(n.id)
                        grown = True
    return timed


def _sleep_and_timing_findings(source: str, name: str) -> list[str]:
    tree = ast.parse(source, name)
    found = []
    for scope in [tree, *(n for n in ast.walk(tree) if isinstance(n, _SCOPES))]:
        where = f"{name}::{getattr(scope, 'name', '<module>')}"
        if where in SLEEP_OR_TIMING_ALLOWED:
            continue
        nodes = _own_nodes(scope)
        has_clock = any(_module_call(n, CLOCKS) for n, _loop in nodes)
        timed = _timed_names(nodes)
        for node, loop in nodes:
            if _module_call(node, {"sleep"}):
                if loop is None:
                    found.append(f"{where}:{node.lineno} sleeps outside a polling loop")
                elif isinstance(loop, ast.While) and not has_clock:
                    found.append(f"{where}:{node.lineno} polls without a deadline")
            elif isinstance(node, ast.Assert) and loop is None and any(
                    _module_call(n, CLOCKS) or (isinstance(n, ast.Name) and n.id in timed)
                    for n in ast.walk(node.test)):
                found.append(f"{where}:{node.lineno} asserts on a duration")
    return found


def test_no_sleep_stands_in_for_a_state_and_no_timing_thresholds() -> None:
    found = [f for path in sorted(TESTS.rglob("*.py"))
             for f in _sleep_and_timing_findings(path.read_text(), str(path.relative_to(TESTS.parent)))]
    assert not found, ("poll for the state with tests.helpers.waits.wait_until (a deadline and a "
                       "message); assert on events or states, not durations (or list the case "
                       "in SLEEP_OR_TIMING_ALLOWED with the reason):\n" + "\n".join(found))


def test_the_sleep_and_timing_rule_tells_polls_from_sleeps_and_thresholds() -> None:
    source = """
import time
from time import sleep
def poll(check):
    deadline = time.monotonic() + 5
    while not check():
        assert time.monotonic() < deadline, "what was awaited"
        time.sleep(0.1)
def waits_blind():
    sleep(1)
def spins(server):
    while not server.started:
        time.sleep(0.02)
def threshold(run):
    t0 = time.monotonic()
    run()
    elapsed = time.monotonic() - t0
    assert elapsed < 2.0
def pairs(console):
    deadline, text = time.monotonic() + 5, ""
    assert "ready" in console
"""
    assert _sleep_and_timing_findings(source, "t.py") == [
        "t.py::waits_blind:10 sleeps outside a polling loop",
        "t.py::spins:13 polls without a deadline",
        "t.py::threshold:18 asserts on a duration",
    ]
