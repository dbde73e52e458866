"""`stratus host list | show | add | revoke | remove | enable | disable | offline | flush |
recover`: the compute nodes as data, their enrolment, and the recovery of a failed one."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import click

from stratuslab.cli.client import Api
from stratuslab.cli.output import listed, print_json, print_table, wide_option

COLUMNS = [("name", "name"), ("state", "state"), ("cpus", "cpus"),
           ("vcpu alloc", "allocated_vcpu"), ("memory MiB", "memory_mib"),
           ("mem alloc", "allocated_memory_mib"), ("load", "load1"), ("vms", "vms")]  # fmt: skip


def _api(ctx: click.Context) -> Api:
    return ctx.find_root().obj.api  # type: ignore[no-any-return]


def _path(name: str, action: str = "") -> str:
    return f"/api/v1/hosts/{quote(name, safe='')}" + (f"/{action}" if action else "")


@click.group("host")
def host() -> None:
    """Compute hosts: state, capacity, allocation (administrators change their state)."""


@host.command("list")
@click.option("--json", "as_json", is_flag=True, help="print a JSON array")
@wide_option
@click.pass_context
def host_list(ctx: click.Context, as_json: bool) -> None:
    """Every host with its state, capacity and allocation."""
    rows = _api(ctx).get("/api/v1/hosts")
    print_json(listed(rows)) if as_json else print_table(rows, COLUMNS)


@host.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="print a JSON object")
@click.pass_context
def host_show(ctx: click.Context, name: str, as_json: bool) -> None:
    """One host, every field."""
    answer: dict[str, Any] = _api(ctx).get(_path(name))
    if as_json:
        print_json(answer)
        return
    for key, value in answer.items():
        click.echo(f"{key}: {value}")


def _state_command(action: str, doc: str) -> click.Command:
    @click.command(action, help=doc)
    @click.argument("name")
    @click.pass_context
    def command(ctx: click.Context, name: str) -> None:
        answer: dict[str, Any] = _api(ctx).post(_path(name, action))
        click.echo(f"host {answer['name']}: {answer['state']}")

    return command


for _action, _doc in (("enable", "Let new VMs be placed on the host (state monitored)."),
                      ("disable", "Keep new VMs off the host; its running VMs stay."),
                      ("offline", "Take the host out of service (no new VMs).")):
    host.add_command(_state_command(_action, _doc))


@host.command("recover")
@click.argument("name")
@click.pass_context
def host_recover(ctx: click.Context, name: str) -> None:
    """Fence a failed host (the site's fencing command), then restart its VMs elsewhere."""
    answer: dict[str, Any] = _api(ctx).post(_path(name, "recover"))
    moved = answer["restarted"]
    click.echo(f"host {name}: fenced; {len(moved)} VM(s) restarted elsewhere"
               + (f": {', '.join(str(i) for i in moved)}" if moved else ""))


@host.command("flush")
@click.argument("name")
@click.pass_context
def host_flush(ctx: click.Context, name: str) -> None:
    """Migrate every VM away from the host (needs VM migration: refused until it exists)."""
    _api(ctx).post(_path(name, "flush"))


@host.command("add")
@click.argument("name")
@click.pass_context
def host_add(ctx: click.Context, name: str) -> None:
    """Register a host and print its one-time enrolment token (for stratus-node enroll)."""
    answer: dict[str, Any] = _api(ctx).post("/api/v1/hosts", json={"name": name})
    click.echo(f"host {answer['name']}: enrolment token (one use, expires "
               f"{answer['expires_at']}):")
    click.echo(answer["token"])
    click.echo(f"on the host: stratus-node enroll --server URL --name {answer['name']} "
               "--token TOKEN")


@host.command("revoke")
@click.argument("name")
@click.pass_context
def host_revoke(ctx: click.Context, name: str) -> None:
    """Revoke the host's certificate (its agent is refused from now on) and take it offline."""
    answer: dict[str, Any] = _api(ctx).post(_path(name, "revoke"))
    click.echo(f"host {answer['name']}: {answer['revoked_certificates']} certificate(s) "
               "revoked; host offline")


@host.command("remove")
@click.argument("name")
@click.pass_context
def host_remove(ctx: click.Context, name: str) -> None:
    """Revoke the host and forget it (refused while VMs hold capacity there)."""
    _api(ctx).delete(_path(name))
    click.echo(f"host {name}: revoked and removed")


COMMANDS: list[click.Command] = [host]
