"""Rules of the test suite itself, checked on its source (no cloud is built here).

- A test module or conftest never imports another test module or a conftest: shared code lives
  in tests/helpers (fixtures shared across directories are pytest plugins loaded by
  tests/conftest.py), shared contract suites in tests/contract/*_contract.py.
- Every test asserts something: an `assert`, `pytest.raises`/`pytest.fail`, or a call of a
  helper whose name says it checks (assert_*, check_*, expect_*, wait_*, refused...).
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
