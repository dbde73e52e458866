"""`stratus nic attach|detach|list`: NIC hot-plug of running VMs (REST /api/v1/vms/{id}/nics).

Attach and detach are jobs on the cloud; the commands wait for them with a progress display
(`--no-wait` prints the job instead).  Talks to the REST API only.
"""

from __future__ import annotations

from typing import Any

import click

from stratuslab.cli.client import Api, CliError
from stratuslab.cli.output import listed, print_json, print_table, wide_option
from stratuslab.cli.progress import follow_job

COLUMNS = [("vm", "vm"), ("nic", "nic_id"), ("network", "network"), ("ip", "ip"),
           ("mac", "mac"), ("ipv6", "ipv6")]


def _api(ctx: click.Context) -> Api:
    api: Api = ctx.obj.api
    return api


@click.group("nic")
def nic() -> None:
    """Hot-plug NICs into running VMs, take them out, list them."""


def _finish(api: Api, queued: dict[str, Any], label: str, no_wait: bool) -> dict[str, Any] | None:
    """The job's result once it is done (None with --no-wait, after printing the job)."""
    if no_wait:
        click.echo(f"JOB {queued['id']} {queued['state']}")
        return None
    job = follow_job(api, queued["id"], label)
    if job["state"] != "done":
        raise CliError(f"{label}: {job.get('error') or job['state']}")
    result: dict[str, Any] = job.get("result") or {}
    return result


@nic.command("attach")
@click.argument("vm_id", type=int)
@click.argument("network")
@click.option("--ip", help="the address to take on NETWORK (default: the next free one)")
@click.option("--no-wait", is_flag=True, help="print the job and return at once")
@click.pass_context
def attach(ctx: click.Context, vm_id: int, network: str, ip: str | None, no_wait: bool) -> None:
    """Plug a new NIC on NETWORK into running VM VM_ID; prints its id, MAC, IP and device."""
    api = _api(ctx)
    queued = api.post(f"/api/v1/vms/{vm_id}/nics", json={"network": network, "ip": ip})["job"]
    made = _finish(api, queued, f"NIC on {network} for VM {vm_id}", no_wait)
    if made is not None:
        click.echo(f"ATTACHED NIC {made['nic_id']} VM {vm_id} NETWORK {made['network']} "
                   f"MAC {made['mac']} IP {made['ip']} DEVICE {made.get('device', '')}")


@nic.command("detach")
@click.argument("vm_id", type=int)
@click.argument("nic_ref", metavar="NIC")
@click.option("--no-wait", is_flag=True, help="print the job and return at once")
@click.pass_context
def detach(ctx: click.Context, vm_id: int, nic_ref: str, no_wait: bool) -> None:
    """Unplug NIC (its id from `stratus nic list`, or its MAC) from running VM VM_ID and give
    its address back; only the last NIC of a VM with several can go."""
    api = _api(ctx)
    queued = api.delete(f"/api/v1/vms/{vm_id}/nics/{nic_ref}")["job"]
    gone = _finish(api, queued, f"NIC {nic_ref} of VM {vm_id}", no_wait)
    if gone is not None:
        click.echo(f"DETACHED NIC {gone['nic_id']} VM {vm_id} MAC {gone['mac']} IP {gone['ip']}")


@nic.command("list")
@click.argument("vm_ids", nargs=-1, type=int)
@click.option("--json", "as_json", is_flag=True, help="print a JSON array")
@wide_option
@click.pass_context
def list_nics(ctx: click.Context, vm_ids: tuple[int, ...], as_json: bool) -> None:
    """The NICs of VM_IDS (of every VM of yours when none is given)."""
    api = _api(ctx)
    ids = vm_ids or tuple(vm["id"] for vm in api.items("/api/v1/vms", {"limit": 1000}))
    rows = [{**n, "vm": vm_id} for vm_id in ids for n in api.get(f"/api/v1/vms/{vm_id}/nics")]
    print_json(listed(rows)) if as_json else print_table(rows, COLUMNS)


COMMANDS: list[click.Command] = [nic]
