"""`stratus-server remove-data-plane`: take the all-in-one data plane away on purpose.

A server stop leaves the data plane running (guests keep their network; the next start adopts
it), so removing it is an operator's explicit act: every guest, bridge, tap, nftables table and
dnsmasq in the namespace, the uplink veth and this cloud's host routes (never another cloud's).
"""

from __future__ import annotations

import click

from stratuslab.core.errors import CloudError
from stratuslab.ops.common import config_option, data_dir_option, fail, load


@click.command("remove-data-plane")
@config_option
@data_dir_option
def remove_data_plane(config: str | None, data_dir: str | None) -> None:
    """Remove the all-in-one data plane, guests included (a server stop keeps it)."""
    from stratuslab.bootstrap.network import remove_data_plane as remove

    try:
        ns = remove(load(config, data_dir))
    except CloudError as exc:
        fail(exc)
    click.echo(f"removed data-plane namespace {ns}" if ns else "no data plane to remove")
