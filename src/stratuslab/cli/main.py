"""`stratus`: the command group, global options and the classic `stratus-*` entry points."""

from __future__ import annotations

from typing import Any

import click

from stratuslab.cli import (
    admin,
    cloudload,
    hosts,
    marketplace,
    network,
    nics,
    objects,
    quota,
    registration,
    vms,
    volumes,
)
from stratuslab.cli.client import Api
from stratuslab.cli.config import load
from stratuslab.cli.errors import Group


class Context:
    def __init__(self, options: dict[str, Any], section: str | None) -> None:
        self.options = options
        self.section = section
        self._api: Api | None = None

    @property
    def config(self) -> Any:
        return load(self.options, section=self.section)

    @property
    def api(self) -> Api:
        if self._api is None:
            self._api = Api(self.config)
        return self._api


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--endpoint", help="cloud endpoint URL (STRATUSLAB_ENDPOINT)")
@click.option("-u", "--username", help="user name (STRATUSLAB_USERNAME)")
@click.option("-p", "--password", help="password (STRATUSLAB_PASSWORD)")
@click.option("--token", help="API token instead of a password (STRATUSLAB_TOKEN)")
@click.option("--section", help="section of ~/.stratuslab/stratuslab-user.cfg to use")
@click.version_option(package_name="stratuslab")
@click.pass_context
def cli(ctx: click.Context, endpoint: str | None, username: str | None, password: str | None,
        token: str | None, section: str | None) -> None:
    """StratusLab cloud client."""
    ctx.obj = Context(
        {"endpoint": endpoint, "username": username, "password": password, "token": token}, section
    )


for command in (*vms.COMMANDS, *admin.COMMANDS, *marketplace.COMMANDS, *registration.COMMANDS,
                *network.COMMANDS, *nics.COMMANDS, *volumes.COMMANDS, *cloudload.COMMANDS, *hosts.COMMANDS,
                *quota.COMMANDS):
    cli.add_command(command)
for command in objects.COMMANDS:  # file storage (CDMI) beside the storage quarantine
    volumes.storage.add_command(command)


def main() -> None:
    cli(prog_name="stratus")
