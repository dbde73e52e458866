"""Printing for the CLI: JSON for scripts, Rich tables for people."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table


def listed(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of a listing with the contract's keys first: id, name, state, owner (README).

    Objects without one of them get: id = their name, name = their tag or kind, state "ready"
    (a listed object that has no life cycle), owner null (objects nobody owns)."""
    out = []
    for row in rows:
        ident = row.get("id", row.get("name"))
        name = row.get("name") or row.get("tag") or row.get("kind")
        out.append({"id": ident, "name": name, "state": row.get("state") or "ready",
                    "owner": row.get("owner"), **row})
    return out


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


WIDE = "stratuslab.wide"  # click context meta key set by --wide


def _wide(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[WIDE] = True


#: every listing command's --wide: whole values on a terminal too (lines longer than it)
wide_option = click.option(
    "--wide", is_flag=True, expose_value=False, callback=_wide, is_eager=True,
    help="never cut a column to the terminal's width (piped output never is)")


def wide() -> bool:
    """Whether this command was asked for --wide output (or prints to no terminal)."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get(WIDE)) or not Console().is_terminal


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> None:
    table = Table(box=None, header_style="bold")
    for title, _ in columns:
        table.add_column(title)
    for row in rows:
        table.add_row(*("" if row.get(key) is None else str(row.get(key)) for _, key in columns))
    # --wide, or piped: whole values (ids, UUIDs) on one line, never cut
    console = Console(width=100_000) if wide() else Console()
    console.print(table)


def stderr_console() -> Console:
    return Console(stderr=True)
