"""`stratus-server config check FILE` and `config reference`."""

from __future__ import annotations

from pathlib import Path

import click

from stratuslab.ops.common import fail
from stratuslab.settings import SettingsError, load_settings
from stratuslab.settings.reference import generate, line_of


@click.group("config")
def config() -> None:
    """Check a settings file; print the configuration reference."""


@config.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def check(file: str) -> None:
    """Validate FILE (alone, without the environment); name the bad key and its line."""
    try:
        load_settings(file, env={})
    except SettingsError as exc:
        where = ""
        if exc.key and exc.key != "-" and Path(file).is_file():
            line = line_of(Path(file).read_text(errors="replace"), exc.key)
            where = f" line {line}" if line else ""
        fail(f"{file}{where}: {exc.full_message}")
    click.echo(f"{file}: ok")


@config.command("reference")
def reference() -> None:
    """Print the configuration reference (Markdown; docs/configuration.md is this output)."""
    click.echo(generate(), nl=False)
