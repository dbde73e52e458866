"""Commands for users, groups, images, jobs and tokens."""

from __future__ import annotations

from typing import Any

import click

from stratuslab.cli.client import Api, CliError
from stratuslab.cli.output import listed, print_json, print_table, wide_option
from stratuslab.cli.progress import follow_job, working


def _api(ctx: click.Context) -> Api:
    return ctx.obj.api  # type: ignore[no-any-return]


def _show(rows: list[dict[str, Any]], cols: list[tuple[str, str]], as_json: bool) -> None:
    print_json(listed(rows)) if as_json else print_table(rows, cols)


json_option = click.option("--json", "as_json", is_flag=True, help="print a JSON array")


@click.group("user")
def user() -> None:
    """Manage users (admin)."""


@user.command("create")
@click.argument("name")
@click.option("--password", required=True)
@click.option("--group", "groups", multiple=True, help="group; the first is the primary group")
@click.option("--admin", is_flag=True)
@click.option("--dn", help="certificate subject mapped to this user")
@click.pass_context
def user_create(ctx: click.Context, name: str, password: str, groups: tuple[str, ...],
                admin: bool, dn: str | None) -> None:
    u = _api(ctx).post("/api/v1/users", json={"name": name, "password": password,
                                              "groups": list(groups), "admin": admin, "dn": dn})
    click.echo(u["id"])


@user.command("list")
@json_option
@wide_option
@click.pass_context
def user_list(ctx: click.Context, as_json: bool) -> None:
    rows = _api(ctx).get("/api/v1/users")
    for r in rows:
        r["group_list"] = ",".join(r["groups"])
        r["role_list"] = ",".join(r["roles"])
    _show(rows, [("id", "id"), ("name", "name"), ("groups", "group_list"), ("roles", "role_list")],
          as_json)


@user.command("delete")
@click.argument("name")
@click.pass_context
def user_delete(ctx: click.Context, name: str) -> None:
    _api(ctx).delete(f"/api/v1/users/{name}")


@user.command("passwd")
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.pass_context
def user_passwd(ctx: click.Context, name: str, password: str) -> None:
    _api(ctx).request("PUT", f"/api/v1/users/{name}/password", json={"password": password})
    click.echo(f"password of user {name} changed")


@click.group("group")
def group() -> None:
    """Manage groups (admin)."""


@group.command("create")
@click.argument("name")
@click.pass_context
def group_create(ctx: click.Context, name: str) -> None:
    click.echo(_api(ctx).post("/api/v1/groups", json={"name": name})["id"])


@group.command("list")
@json_option
@wide_option
@click.pass_context
def group_list(ctx: click.Context, as_json: bool) -> None:
    _show(_api(ctx).get("/api/v1/groups"), [("id", "id"), ("name", "name")], as_json)


@group.command("delete")
@click.argument("name")
@click.pass_context
def group_delete(ctx: click.Context, name: str) -> None:
    _api(ctx).delete(f"/api/v1/groups/{name}")


@click.group("image")
def image() -> None:
    """Register, build, list and delete images."""


IMAGE_COLUMNS = [("id", "id"), ("name", "name"), ("state", "state"), ("owner", "owner"),
                 ("format", "format"), ("size", "size_bytes"), ("sha1", "sha1")]


@image.command("register")
@click.argument("name")
@click.argument("source")
@click.option("--sha1", help="expected SHA-1 of the image; the import fails on a mismatch")
@click.option("--kernel", help="kernel for direct boot (path or URL)")
@click.option("--initrd", help="initrd for direct boot")
@click.option("--cmdline", help="kernel command line")
@click.option("--public", is_flag=True)
@click.option("--inbound-port", "ports", multiple=True, type=click.IntRange(1, 65535),
              help="TCP port the VMs' default firewall opens (repeatable)")
@click.pass_context
def image_register(ctx: click.Context, name: str, source: str, sha1: str | None,
                   kernel: str | None, initrd: str | None, cmdline: str | None,
                   public: bool, ports: tuple[int, ...]) -> None:
    """Register SOURCE (a path on the server or a URL) as image NAME; print its id."""
    api = _api(ctx)
    with working(f"registering image {name} (copied and checked by the server)"):
        img = api.post("/api/v1/images", json={
            "name": name, "source": source, "sha1": sha1, "kernel": kernel, "initrd": initrd,
            "cmdline": cmdline, "public": public, "inbound_ports": list(ports)}, timeout=3600)
    if img.get("job"):  # a URL: the server downloads it in a job; wait for it
        job = follow_job(api, img["job"]["id"], f"image {img['id']} ({name})")
        if job["state"] != "done":
            raise CliError(
                f"image {img['id']} ({name}): {job.get('error') or 'the download did not finish'}")
    click.echo(img["id"])


@image.command("build")
@click.argument("recipe", type=click.Choice(["tiny"]))
@click.option("--name", help="image name (default: the recipe name)")
@click.pass_context
def image_build(ctx: click.Context, recipe: str, name: str | None) -> None:
    """Build a guest image from Debian packages and register it; print its id."""
    with working(f"building image {name or recipe} (the first build takes minutes)"):
        img = _api(ctx).post("/api/v1/images/build", json={"recipe": recipe, "name": name},
                             timeout=3600)
    click.echo(img["id"])


@image.command("list")
@json_option
@wide_option
@click.pass_context
def image_list(ctx: click.Context, as_json: bool) -> None:
    _show(_api(ctx).get("/api/v1/images"), IMAGE_COLUMNS, as_json)


@image.command("delete")
@click.argument("image_id", type=int)
@click.pass_context
def image_delete(ctx: click.Context, image_id: int) -> None:
    _api(ctx).delete(f"/api/v1/images/{image_id}")


@click.group("job")
def job() -> None:
    """Inspect jobs."""


JOB_COLUMNS = [("id", "id"), ("kind", "kind"), ("state", "state"), ("vm", "vm_id"),
               ("owner", "owner"), ("error", "error")]


@job.command("list")
@click.option("--vm", "vm_id", type=int, help="only this VM's jobs")
@click.option("--limit", type=click.IntRange(1), help="the newest N only (default: every job)")
@json_option
@wide_option
@click.pass_context
def job_list(ctx: click.Context, vm_id: int | None, limit: int | None, as_json: bool) -> None:
    """Your jobs (every job for admins), newest first; the cloud's pages are followed."""
    params: dict[str, Any] = {"vm_id": vm_id} if vm_id else {}
    if limit is not None:
        params["limit"] = min(limit, 1000)
    _show(_api(ctx).items("/api/v1/jobs", params, most=limit), JOB_COLUMNS, as_json)


@job.command("show")
@click.argument("job_id", type=int)
@click.pass_context
def job_show(ctx: click.Context, job_id: int) -> None:
    print_json(_api(ctx).get(f"/api/v1/jobs/{job_id}"))


@click.group("token", invoke_without_command=True)
@click.option("--ttl-hours", type=float, help="lifetime (default 12, at most 720)")
@click.pass_context
def token(ctx: click.Context, ttl_hours: float | None) -> None:
    """Issue an API token for the current user (use it with --token); `token list`,
    `token revoke ID`."""
    if ctx.invoked_subcommand is None:
        click.echo(_api(ctx).post("/api/v1/tokens", json={"ttl_hours": ttl_hours})["token"])


@token.command("list")
@click.option("--all", "all_users", is_flag=True, help="every user's tokens (admin)")
@json_option
@wide_option
@click.pass_context
def token_list(ctx: click.Context, all_users: bool, as_json: bool) -> None:
    """Unexpired tokens: their ids (never the tokens themselves) and expiry."""
    rows = _api(ctx).get("/api/v1/tokens", params={"all": "true"} if all_users else {})
    _show(rows, [("id", "id"), ("user", "user"), ("expires at", "expires_at")], as_json)


@token.command("revoke")
@click.argument("token_id")
@click.pass_context
def token_revoke(ctx: click.Context, token_id: str) -> None:
    """Revoke TOKEN_ID (from `stratus token list`, or the token itself) at once."""
    _api(ctx).delete(f"/api/v1/tokens/{token_id}")
    click.echo(f"token {token_id} revoked")


@click.group("quarantine")
def quarantine() -> None:
    """Finished VMs' disks, context and console kept for forensic analysis (admin)."""


QUARANTINE_COLUMNS = [("id", "id"), ("owner", "owner"), ("host", "host"),
                      ("quarantined at", "quarantined_at"), ("expires at", "expires_at")]


@quarantine.command("list")
@json_option
@wide_option
@click.pass_context
def quarantine_list(ctx: click.Context, as_json: bool) -> None:
    _show(_api(ctx).get("/api/v1/quarantine"), QUARANTINE_COLUMNS, as_json)


@quarantine.command("show")
@click.argument("vm_id", type=int)
@click.pass_context
def quarantine_show(ctx: click.Context, vm_id: int) -> None:
    print_json(_api(ctx).get(f"/api/v1/quarantine/{vm_id}"))


@quarantine.command("purge")
@click.argument("vm_id", type=int, required=False)
@click.pass_context
def quarantine_purge(ctx: click.Context, vm_id: int | None) -> None:
    """Purge VM_ID now, or every entry past its retention period."""
    path = f"/api/v1/quarantine/{vm_id}" if vm_id is not None else "/api/v1/quarantine"
    purged = _api(ctx).delete(path)["purged"]
    click.echo(f"purged: {' '.join(map(str, purged)) or 'nothing'}")


COMMANDS: list[click.Command] = [user, group, image, job, token, quarantine]
