"""`stratus-server`: run the cloud front end (optionally all-in-one), or manage its database."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import click

from stratuslab.core.errors import CloudError


def _settings(config: str | None, data_dir: str | None, listen: str | None = None,
              hypervisor: str | None = None) -> Any:
    from stratuslab.ops.common import load

    return load(config, data_dir, listen, hypervisor)


def _fail(exc: CloudError) -> None:
    from stratuslab.ops.common import fail

    fail(exc)


@click.group(invoke_without_command=True)
@click.option("--config", "config", type=click.Path(dir_okay=False), help="TOML settings file")
@click.option("--data-dir", help="data directory (database, images, instances, logs)")
@click.option("--listen", help="HOST:PORT to serve on (default 127.0.0.1:8080)")
@click.option("--hypervisor", help="hypervisor driver: qemu (default) or simulated")
@click.option("--all-in-one", is_flag=True, help="server, marketplace and one node in one process")
@click.version_option(package_name="stratuslab")
@click.pass_context
def main(ctx: click.Context, config: str | None, data_dir: str | None, listen: str | None,
         hypervisor: str | None, all_in_one: bool) -> None:
    """StratusLab cloud server."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        settings = _settings(config, data_dir, listen, hypervisor)
        serve(settings, all_in_one=all_in_one)
    except CloudError as exc:
        _fail(exc)


def serve(settings: Any, *, all_in_one: bool) -> None:
    import uvicorn

    from stratuslab.bootstrap import admin_password_file, build_cloud

    logging.basicConfig(level=settings.server.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cloud = build_cloud(settings, create_db=all_in_one)
    generated = cloud.identity.ensure_admin(settings.server.admin_password or None)
    if generated:
        path = admin_password_file(settings)
        path.write_text(generated + "\n")
        os.chmod(path, 0o600)
        click.echo(f"bootstrap admin user 'admin' created; password: {generated} (also in {path})")
    host, _, port = settings.server.listen.rpartition(":")
    click.echo(f"stratus-server listening on http://{host}:{port} (data in {settings.data_dir})")
    if not settings.tls.listen:
        uvicorn.run(cloud.app, host=host.strip("[]") or "127.0.0.1", port=int(port),
                    log_level="warning", access_log=False)
        return
    from stratuslab.api.tls import uvicorn_tls_options

    plain = uvicorn.Config(cloud.app, host=host.strip("[]") or "127.0.0.1", port=int(port),
                           log_level="warning", access_log=False)
    thost, _, tport = settings.tls.listen.rpartition(":")
    tls = uvicorn.Config(cloud.app, host=thost.strip("[]") or "127.0.0.1", port=int(tport),
                         log_level="warning", access_log=False, lifespan="off",
                         **uvicorn_tls_options(settings.tls.cert, settings.tls.key))
    click.echo(f"stratus-server listening on https://{thost}:{tport} (client certificates)")
    asyncio.run(_serve_both(uvicorn.Server(plain), uvicorn.Server(tls)))


async def _serve_both(plain: Any, tls: Any) -> None:
    """The plain listener owns the app's lifespan; the TLS one stops with it."""
    tls_task = asyncio.create_task(tls.serve())
    try:
        await plain.serve()
    finally:
        tls.should_exit = True
        await tls_task


@main.group()
def db() -> None:
    """Manage the cloud database schema."""


@db.command()
@click.option("--config", "config", type=click.Path(dir_okay=False))
@click.option("--data-dir")
@click.option("--revision", default="head", show_default=True)
def upgrade(config: str | None, data_dir: str | None, revision: str) -> None:
    """Migrate the database to the latest schema."""
    from stratuslab.persistence import db as dbm

    try:
        settings = _settings(config, data_dir)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = dbm.make_engine(settings.database_url)
        before = dbm.current_revision(engine)
        dbm.upgrade(engine, revision)
        click.echo(f"database at revision {dbm.current_revision(engine)} (was {before or 'empty'})")
    except CloudError as exc:
        _fail(exc)


@db.command()
@click.option("--config", "config", type=click.Path(dir_okay=False))
@click.option("--data-dir")
def status(config: str | None, data_dir: str | None) -> None:
    """Show the schema revision of the database and the one this server needs."""
    from stratuslab.persistence import db as dbm

    settings = _settings(config, data_dir)
    engine = dbm.make_engine(settings.database_url)
    click.echo(f"current: {dbm.current_revision(engine) or 'empty'}; needed: {dbm.head_revision()}")


def _register() -> None:
    from stratuslab.ops.config import config

    main.add_command(config)


_register()

if __name__ == "__main__":
    main()
