"""`stratus quota`: show compute quotas and usage; `stratus quota set` / `reset` (admins)."""

from __future__ import annotations

from typing import Any

import click

from stratuslab.cli.client import Api
from stratuslab.cli.output import print_json, print_table

ROWS = (("VMs", "vms"), ("vCPUs", "cpu"), ("memory (MiB)", "memory_mib"), ("disk (GiB)", "disk_gb"))


def _api(ctx: click.Context) -> Api:
    return ctx.find_root().obj.api  # type: ignore[no-any-return]


def _path(user: str | None, group: str | None) -> str | None:
    if user and group:
        raise click.UsageError("give --user or --group, not both")
    if user:
        return f"/api/v1/quotas/users/{user}"
    if group:
        return f"/api/v1/quotas/groups/{group}"
    return None


def _print(reports: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print_json(reports)
        return
    for report in reports:
        source = "own limits" if report["own"] else "defaults"
        click.echo(f"{report['kind']} {report['name']} ({source})")
        rows = [{"what": title, "used": report["usage"][key],
                 "limit": "unlimited" if report["limits"][key] is None else report["limits"][key]}
                for title, key in ROWS]
        print_table(rows, [("", "what"), ("used", "used"), ("limit", "limit")])


def _limit(value: str | None) -> int | None:
    if value is None or value.lower() == "unlimited":
        return None
    try:
        number = int(value)
    except ValueError:
        raise click.UsageError(f"{value!r} is not a number; give a whole number or 'unlimited'") from None
    if number < 0:
        raise click.UsageError(f"{number} is negative; give a whole number of 0 or more, or 'unlimited'")
    return number


@click.group("quota", invoke_without_command=True)
@click.option("--user", help="the quota of this user (yours by default)")
@click.option("--group", help="the quota of this group")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def quota(ctx: click.Context, user: str | None, group: str | None, as_json: bool) -> None:
    """Your (or a user's or group's) limits on VMs, vCPUs, memory and disk, and their use."""
    if ctx.invoked_subcommand is not None:
        return
    path = _path(user, group)
    reports = _api(ctx).get(path) if path else _api(ctx).get("/api/v1/quotas")
    _print(reports if isinstance(reports, list) else [reports], as_json)


@quota.command("set")
@click.option("--user", help="user whose limits change")
@click.option("--group", help="group whose limits change")
@click.option("--vms", help="VMs at once (a number or 'unlimited')")
@click.option("--cpu", help="vCPUs of those VMs together")
@click.option("--memory", help="MiB of memory of those VMs together")
@click.option("--disk", help="GiB of disk (root image + volatile disks) together")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def quota_set(ctx: click.Context, user: str | None, group: str | None, vms: str | None,
              cpu: str | None, memory: str | None, disk: str | None, as_json: bool) -> None:
    """Set limits of a user or group (administrators); options not given keep their value."""
    path = _path(user, group)
    if path is None:
        raise click.UsageError("name the subject: stratus quota set --user NAME (or --group NAME) ...")
    given = {"vms": vms, "cpu": cpu, "memory_mib": memory, "disk_gb": disk}
    body = {k: _limit(v) for k, v in given.items() if v is not None}
    if not body:
        raise click.UsageError("nothing to set: give --vms, --cpu, --memory and/or --disk")
    _print([_api(ctx).request("PUT", path, json=body)], as_json)


@quota.command("reset")
@click.option("--user", help="user whose own limits are dropped")
@click.option("--group", help="group whose own limits are dropped")
@click.pass_context
def quota_reset(ctx: click.Context, user: str | None, group: str | None) -> None:
    """Drop a user's or group's own limits: the server's defaults apply again (admins)."""
    path = _path(user, group)
    if path is None:
        raise click.UsageError("name the subject: stratus quota reset --user NAME (or --group NAME)")
    _print([_api(ctx).delete(path)], False)


COMMANDS = [quota]
