"""Persistent volume commands (StratusLab's pdisk client): create-volume, describe-volumes,
update-volume, attach-volume, detach-volume, delete-volume, and the admin's
`stratus storage quarantine list|purge`; plus the classic `stratus-create-volume`... entry points.
Talks to /api/v1/volumes only; never imports drivers, persistence or settings.
"""

from __future__ import annotations

from typing import Any

import click

from stratuslab.cli.client import Api
from stratuslab.cli.output import listed, print_json, print_table, wide_option
from stratuslab.cli.progress import working

COLUMNS = [("uuid", "id"), ("size", "size"), ("tag", "tag"), ("owner", "owner"),
           ("visibility", "visibility"), ("kind", "kind"), ("state", "state"),
           ("attached to", "attached")]  # fmt: skip


def _api(ctx: click.Context) -> Api:
    api: Api = ctx.obj.api
    return api


def _rows(volumes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**v, "attached": ",".join(str(vm) for vm in v["attached_to"])} for v in volumes]


@click.command("create-volume")
@click.option("-s", "--size", type=int, required=True, help="GiB, 1-1024")
@click.option("-t", "--tag", default="", help="a label of at most 40 characters")
@click.option("--public/--private", default=False, help="everyone may see and attach it")
@click.option("--readonly", is_flag=True, help="shareable by many VMs, read-only")
@click.option("--cow", metavar="UUID", help="a copy-on-write child of this volume")
@click.option("--pool", help="storage pool (default: the server's)")
@click.pass_context
def create_volume(ctx: click.Context, size: int, tag: str, public: bool, readonly: bool,
                  cow: str | None, pool: str | None) -> None:  # fmt: skip
    """Create a persistent volume; prints DISK <uuid>."""
    body = {"size": size, "tag": tag, "visibility": "public" if public else "private",
            "readonly": readonly, "cow": cow, "pool": pool}  # fmt: skip
    copy = f" (a copy-on-write child of {cow})" if cow else ""
    with working(f"creating a {size} GiB volume{copy}"):  # the server answers once it is made
        vol = _api(ctx).post("/api/v1/volumes", json=body)
    click.echo(f"DISK {vol['id']}")


@click.command("describe-volumes")
@click.argument("uuids", nargs=-1)
@click.option("-f", "--filter", "filters", multiple=True, help="key:pattern (glob: * ?, ^ and $ anchor; AND); repeatable")
@click.option("--json", "as_json", is_flag=True, help="print a JSON array")
@wide_option
@click.pass_context
def describe_volumes(ctx: click.Context, uuids: tuple[str, ...], filters: tuple[str, ...],
                     as_json: bool) -> None:  # fmt: skip
    """List your volumes and public ones (all for admins), or the UUIDS given."""
    api = _api(ctx)
    if uuids:
        found = [api.get(f"/api/v1/volumes/{u}") for u in uuids]
    else:
        found = api.get("/api/v1/volumes", params=[("filter", f) for f in filters])
    if as_json:
        print_json(listed(found))
    else:
        print_table(_rows(found), COLUMNS)


@click.command("update-volume")
@click.argument("uuid")
@click.option("-t", "--tag", help="new tag (at most 40 characters)")
@click.option("--public/--private", default=None, help="change the visibility")
@click.option("--readonly/--writable", default=None, help="read-only volumes may be shared")
@click.pass_context
def update_volume(ctx: click.Context, uuid: str, tag: str | None, public: bool | None,
                  readonly: bool | None) -> None:  # fmt: skip
    """Change the tag, visibility or read-only flag of a volume you own."""
    body: dict[str, Any] = {"tag": tag, "readonly": readonly}
    if public is not None:
        body["visibility"] = "public" if public else "private"
    vol = _api(ctx).request("PATCH", f"/api/v1/volumes/{uuid}",
                            json={k: v for k, v in body.items() if v is not None})  # fmt: skip
    click.echo(f"DISK {vol['id']} tag={vol['tag']!r} {vol['visibility']}"
               f"{' readonly' if vol['readonly'] else ''}")  # fmt: skip


@click.command("attach-volume")
@click.option("-i", "--instance", "vm_id", type=int, required=True, help="the running VM")
@click.argument("uuids", nargs=-1, required=True)
@click.pass_context
def attach_volume(ctx: click.Context, vm_id: int, uuids: tuple[str, ...]) -> None:
    """Hot-plug volumes into a running VM; prints the device the guest sees."""
    api = _api(ctx)
    for uuid in uuids:
        out = api.post(f"/api/v1/volumes/{uuid}/attach", json={"vm": vm_id})
        click.echo(f"ATTACHED {out['id']} VM {out['vm']} DEVICE {out['device']}")


@click.command("detach-volume")
@click.option("-i", "--instance", "vm_id", type=int, required=True, help="the running VM")
@click.argument("uuids", nargs=-1, required=True)
@click.pass_context
def detach_volume(ctx: click.Context, vm_id: int, uuids: tuple[str, ...]) -> None:
    """Hot-unplug volumes from a running VM (the guest must have released them)."""
    api = _api(ctx)
    for uuid in uuids:
        api.post(f"/api/v1/volumes/{uuid}/detach", json={"vm": vm_id})
        click.echo(f"DETACHED {uuid} VM {vm_id}")


@click.command("delete-volume")
@click.argument("uuids", nargs=-1, required=True)
@click.pass_context
def delete_volume(ctx: click.Context, uuids: tuple[str, ...]) -> None:
    """Delete volumes you own (refused while attached)."""
    api = _api(ctx)
    for uuid in uuids:
        api.delete(f"/api/v1/volumes/{uuid}")
        click.echo(f"DELETED {uuid}")


@click.group("storage")
def storage() -> None:
    """File storage (CDMI objects) and storage administration."""


@storage.group("quarantine")
def quarantine() -> None:
    """Root volumes of killed VMs, kept for the quarantine period (admins)."""


@quarantine.command("list")
@click.option("--json", "as_json", is_flag=True, help="print a JSON array")
@wide_option
@click.pass_context
def quarantine_list(ctx: click.Context, as_json: bool) -> None:
    found = _api(ctx).get("/api/v1/storage/quarantine")
    if as_json:
        print_json(listed(found))
    else:
        print_table(found, [("uuid", "id"), ("vm", "vm_id"), ("owner", "owner"),
                            ("size", "size"), ("quarantined at", "quarantined_at")])  # fmt: skip


@quarantine.command("purge")
@click.argument("uuid", required=False)
@click.pass_context
def quarantine_purge(ctx: click.Context, uuid: str | None) -> None:
    """Purge one volume (any age), or every volume past the retention."""
    path = f"/api/v1/storage/quarantine/{uuid}" if uuid else "/api/v1/storage/quarantine"
    for purged in _api(ctx).delete(path)["purged"]:
        click.echo(f"PURGED {purged}")


COMMANDS: list[click.Command] = [create_volume, describe_volumes, update_volume, attach_volume,
                                 detach_volume, delete_volume, storage]  # fmt: skip
