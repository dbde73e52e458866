"""`stratus-node`: the node agent's command, a placeholder in this release.

The node (hypervisor, disk-attach and network drivers of a host) is embedded in
`stratus-server` today; the multi-node work moves it here, behind mutual TLS.  Until then the
command checks its settings file and says where the node runs, so the installed unit and its
hardening can already be verified.
"""

from __future__ import annotations

import click

from stratuslab.core.errors import CloudError
from stratuslab.ops.common import config_option, fail, load


@click.command()
@config_option
@click.version_option(package_name="stratuslab")
def main(config: str | None) -> None:
    """StratusLab node agent (placeholder: the node is embedded in stratus-server)."""
    try:
        settings = load(config)
    except CloudError as exc:
        fail(exc)
    click.echo(f"stratus-node: settings {config or '(defaults)'} are valid; in this release the "
               f"node '{settings.server.node_name}' runs inside stratus-server (all-in-one), so "
               "there is nothing to start here yet")
