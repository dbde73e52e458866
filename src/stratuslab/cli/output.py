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


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> None:
    table = Table(box=None, header_style="bold")
    for title, _ in columns:
        table.add_column(title)
    for row in rows:
        table.add_row(*("" if row.get(key) is None else str(row.get(key)) for _, key in columns))
    console = Console()
    if not console.is_terminal:  # piped: whole values (ids, UUIDs) on one line, never cut
        console = Console(width=100_000)
    console.print(table)


def stderr_console() -> Console:
    return Console(stderr=True)
