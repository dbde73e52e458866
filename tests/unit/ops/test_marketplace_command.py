"""`stratus-marketplace` refuses a bad listen address or a missing settings file with an Error
line (no traceback) before it opens any database."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from stratuslab.bootstrap.marketplace_server import main


@pytest.mark.parametrize(("args", "message"), [
    (["--listen", "nonsense"], "Error: setting marketplace.listen: 'nonsense' is not HOST:PORT"),
    (["--listen", "127.0.0.1:99999"], "with a port of 0-65535"),
    (["--config", "/nonexistent/site.toml"], "settings file /nonexistent/site.toml does not exist"),
])
def test_bad_arguments_are_refused_before_anything_is_opened(
        tmp_path: Path, args: list[str], message: str) -> None:
    res = CliRunner().invoke(main, [*args, "--data-dir", str(tmp_path / "mp")])
    assert res.exit_code == 2
    assert message in res.output
    assert not (tmp_path / "mp").exists()
