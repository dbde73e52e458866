"""What every operator command shares: settings from --config/--data-dir/environment, and the
one way a refused command ends (`Error: <what>; <way out>` on stderr, exit status 2)."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

from stratuslab.core.errors import CloudError
from stratuslab.settings import Settings, load_settings


def load(config: str | None, data_dir: str | None = None, listen: str | None = None,
         hypervisor: str | None = None) -> Settings:
    """Settings of a command; `stratus-server --config F --data-dir D <subcommand>` counts too."""
    root = click.get_current_context(silent=True)
    given = root.find_root().params if root is not None else {}
    config = config or given.get("config")
    data_dir = data_dir or given.get("data_dir")
    env = dict(os.environ)
    if "STRATUSLAB_ADMIN_PASSWORD" in env:
        env.setdefault("STRATUSLAB_SERVER_ADMIN_PASSWORD", env["STRATUSLAB_ADMIN_PASSWORD"])
    return load_settings(
        config, env=env,
        overrides={"server": {"data_dir": data_dir, "listen": listen},
                   "hypervisor": {"driver": hypervisor}},
    )


def fail(exc: CloudError | str) -> NoReturn:
    text = exc.full_message if isinstance(exc, CloudError) else exc
    click.echo(f"Error: {text}", err=True)
    sys.exit(2)


# no environment variable: STRATUSLAB_CONFIG is the client's (stratus) configuration file
config_option = click.option("--config", "config", type=click.Path(dir_okay=False),
                             help="TOML settings file")
data_dir_option = click.option("--data-dir", help="data directory (overrides the settings file)")
