"""`stratus-server`: run the cloud front end (optionally all-in-one), or manage its database."""

from __future__ import annotations

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
@click.option("--hypervisor", help="hypervisor driver: qemu (default), libvirt or simulated")
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
        serve(settings, all_in_one=all_in_one,
              reread=lambda: _settings(config, data_dir, listen, hypervisor))
    except CloudError as exc:
        _fail(exc)


def serve(settings: Any, *, all_in_one: bool, reread: Any = None) -> None:
    from stratuslab.ops.serve import serve as run

    run(settings, all_in_one=all_in_one, reread=reread)


def _register() -> None:
    from stratuslab.ops.backup import backup_command, restore_command
    from stratuslab.ops.ca import ca
    from stratuslab.ops.config import config
    from stratuslab.ops.database import db
    from stratuslab.ops.dataplane import remove_data_plane
    from stratuslab.ops.preflight import preflight
    from stratuslab.ops.reload import reload_command

    for command in (config, db, backup_command, restore_command, remove_data_plane, preflight,
                    reload_command, ca):
        main.add_command(command)


_register()

if __name__ == "__main__":
    main()
