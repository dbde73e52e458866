"""`stratus-server db upgrade|downgrade|current|history`: --revision honoured both ways, an
older revision refused by upgrade with the downgrade command to run, unknown revisions named."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from stratuslab.__main__ import main
from stratuslab.persistence import db


def run(*argv: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(argv))
    return res.exit_code, res.output


def test_create_upgrade_downgrade_current_and_history(tmp_path: Path) -> None:
    d = str(tmp_path / "data")
    head = db.head_revision()
    revisions = [rev for rev, _p, _d in db.history()]
    code, out = run("db", "upgrade", "--create", "--data-dir", d, "--revision", revisions[2])
    assert code == 0 and out.startswith(f"database at revision {revisions[2]} (was empty;")
    assert run("db", "current", "--data-dir", d) == (
        0, f"{revisions[2]} (needs upgrade to {head}; {d}/stratuslab.db)\n")
    code, out = run("db", "upgrade", "--data-dir", d, "--revision", revisions[1])
    assert code == 2
    assert (f"Error: the database is at revision {revisions[2]}; {revisions[1]} is older; to go "
            f"back, run: stratus-server db downgrade --revision {revisions[1]} --data-dir {d}") in out
    code, out = run("db", "upgrade", "--data-dir", d)
    assert code == 0 and f"at revision {head} (was {revisions[2]};" in out
    assert run("db", "upgrade", "--data-dir", d)[1] == (
        f"database {d}/stratuslab.db is already at revision {head}\n")
    code, out = run("db", "downgrade", "--data-dir", d, "--revision", revisions[-2])
    assert code == 0 and f"at revision {revisions[-2]} (was {head};" in out
    code, out = run("db", "history", "--data-dir", d)
    assert code == 0
    lines = out.splitlines()
    assert [line[2:].split()[0] for line in lines] == revisions
    assert lines[-2].startswith(f"* {revisions[-2]}") and lines[-1].startswith("  ")
    code, out = run("db", "downgrade", "--data-dir", d, "--revision", head)
    assert code == 2 and "is not older; to go forward, run: stratus-server db upgrade" in out
    code, out = run("db", "downgrade", "--data-dir", d, "--revision", "0099_nope")
    assert code == 2 and "revision '0099_nope' is unknown; see stratus-server db history" in out
    code, out = run("db", "downgrade", "--data-dir", d, "--revision", "base")
    assert code == 0 and run("db", "status", "--data-dir", d)[1] == (
        f"current: empty; needed: {head}\n")


def test_history_without_a_database_lists_revisions_and_creates_nothing(tmp_path: Path) -> None:
    code, out = run("db", "history", "--data-dir", str(tmp_path / "none"))
    assert code == 0 and len(out.splitlines()) == len(db.history())
    assert not (tmp_path / "none").exists()
