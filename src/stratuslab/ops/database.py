"""`stratus-server db upgrade|downgrade|current|history|status`: the cloud database's schema.

Read-only commands never create a database; `upgrade` creates a new SQLite file only with
`--create`, so a mistyped --data-dir is reported instead of silently starting an empty cloud.
"""

from __future__ import annotations

from typing import Any

import click

from stratuslab.core.errors import CloudError, InvalidInput, Unavailable
from stratuslab.ops.common import config_option, data_dir_option, fail, load
from stratuslab.persistence import db as dbm
from stratuslab.settings import Settings


def _where(settings: Settings) -> str:
    path = dbm.sqlite_path(settings.database_url)
    return str(path) if path else settings.database_url.split("@")[-1]


def _flags(settings: Settings) -> str:
    if settings.server.database_url:
        return "--config <the settings file naming this database>"
    return f"--data-dir {settings.data_dir}"


def _open(settings: Settings, *, create: bool = False) -> Any:
    if not dbm.exists(settings.database_url) and not create:
        raise Unavailable(f"there is no database at {_where(settings)}; nothing was created",
                          hint="check --data-dir/--config (the data directory holds "
                          "stratuslab.db), or create a new one: stratus-server db upgrade "
                          f"--create {_flags(settings)}")
    return dbm.make_engine(settings.database_url)


def _known(revision: str) -> None:
    known = [rev for rev, _parent, _doc in dbm.history()]
    if revision not in (*known, "head", "base"):
        raise InvalidInput(f"revision {revision!r} is unknown",
                           hint=f"see stratus-server db history; known: {', '.join(known)}")


@click.group("db")
def db() -> None:
    """Manage the cloud database schema."""


@db.command()
@config_option
@data_dir_option
@click.option("--revision", default="head", show_default=True, help="revision to upgrade to")
@click.option("--create", is_flag=True, help="create the database if it does not exist yet")
def upgrade(config: str | None, data_dir: str | None, revision: str, create: bool) -> None:
    """Migrate the database forward (to the latest schema, or to --revision)."""
    try:
        settings = load(config, data_dir)
        _known(revision)
        engine = _open(settings, create=create)
        before = dbm.current_revision(engine)
        if revision == before or (revision == "head" and before == dbm.head_revision()):
            click.echo(f"database {_where(settings)} is already at revision {before}")
            return
        if dbm.is_older(revision, before):
            raise InvalidInput(f"the database is at revision {before}; {revision} is older",
                               hint=f"to go back, run: stratus-server db downgrade --revision "
                               f"{revision} {_flags(settings)} (back up first: stratus-server "
                               f"backup {_flags(settings)} DEST)")
        dbm.upgrade(engine, revision)
        click.echo(f"database at revision {dbm.current_revision(engine)} "
                   f"(was {before or 'empty'}; {_where(settings)})")
    except CloudError as exc:
        fail(exc)


@db.command()
@config_option
@data_dir_option
@click.option("--revision", required=True, help="revision to go back to (or 'base': empty)")
def downgrade(config: str | None, data_dir: str | None, revision: str) -> None:
    """Migrate the database back to an older revision (stop every server first)."""
    try:
        settings = load(config, data_dir)
        _known(revision)
        engine = _open(settings)
        before = dbm.current_revision(engine)
        if revision == before:
            click.echo(f"database {_where(settings)} is already at revision {before}")
            return
        if revision != "base" and not dbm.is_older(revision, before):
            raise InvalidInput(f"the database is at revision {before or 'base'}; {revision} is "
                               "not older", hint=f"to go forward, run: stratus-server db upgrade "
                               f"--revision {revision} {_flags(settings)}")
        dbm.downgrade(engine, revision)
        click.echo(f"database at revision {dbm.current_revision(engine) or 'base'} "
                   f"(was {before}; {_where(settings)})")
    except CloudError as exc:
        fail(exc)


@db.command()
@config_option
@data_dir_option
def current(config: str | None, data_dir: str | None) -> None:
    """Print the database's revision, and whether this server needs an upgrade."""
    try:
        settings = load(config, data_dir)
        engine = _open(settings)
        rev, head = dbm.current_revision(engine), dbm.head_revision()
        known = {r for r, _p, _d in dbm.history()}
        state = ("up to date" if rev == head else f"needs upgrade to {head}" if rev in known
                 or rev is None else f"newer than this server's {head}")
        click.echo(f"{rev or 'base'} ({state}; {_where(settings)})")
        floor = dbm.oldest_code_revision(engine)
        if floor is not None:
            click.echo(f"servers from revision {floor} on can run on it")
    except CloudError as exc:
        fail(exc)


@db.command()
@config_option
@data_dir_option
def status(config: str | None, data_dir: str | None) -> None:
    """Show the schema revision of the database and the one this server needs."""
    try:
        engine = _open(load(config, data_dir))
        click.echo(f"current: {dbm.current_revision(engine) or 'empty'}; "
                   f"needed: {dbm.head_revision()}")
    except CloudError as exc:
        fail(exc)


@db.command()
@config_option
@data_dir_option
def history(config: str | None, data_dir: str | None) -> None:
    """List the schema revisions, oldest first; mark the database's own when it exists."""
    try:
        settings = load(config, data_dir)
        rev = None
        if dbm.exists(settings.database_url):
            rev = dbm.current_revision(dbm.make_engine(settings.database_url))
        for name, _parent, doc in dbm.history():
            mark = "*" if name == rev else " "
            click.echo(f"{mark} {name:<28} {doc}")
    except CloudError as exc:
        fail(exc)
