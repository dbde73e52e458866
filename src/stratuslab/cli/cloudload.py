"""`stratus cloud-load`: each host's capacity, allocation and load, and VMs per state."""

from __future__ import annotations

import click

from stratuslab.cli.client import Api
from stratuslab.cli.output import print_json, print_table, wide_option


@click.command("cloud-load")
@click.option("--json", "as_json", is_flag=True, help="print a JSON array of hosts")
@wide_option
@click.pass_context
def cloud_load(ctx: click.Context, as_json: bool) -> None:
    """Capacity, allocation and load of every host, and VMs per state."""
    api: Api = ctx.find_root().obj.api
    load = api.get("/api/v1/cloud/load")
    if as_json:
        print_json(load["hosts"])
        return
    print_table(load["hosts"], [("host", "name"), ("state", "state"), ("cpus", "cpus"),
                                ("vcpu used", "allocated_vcpu"), ("memory MiB", "memory_mib"),
                                ("memory used", "allocated_memory_mib"), ("load", "load1"),
                                ("vms", "vms")])  # fmt: skip
    states = ", ".join(f"{s} {n}" for s, n in sorted(load["vms_by_state"].items()))
    click.echo(f"VMs: {states or 'none'}")


COMMANDS: list[click.Command] = [cloud_load]
