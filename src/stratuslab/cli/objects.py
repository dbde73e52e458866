"""`stratus storage ls|mkdir|put|get|rm`: CDMI file storage from the command line.

Paths are CDMI paths under /cdmi/ (`results/` is a container, `results/run1.txt` an object).
Uploads and downloads stream with a progress bar; nothing is held whole in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click
import httpx
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from stratuslab.cli.client import Api, CliError
from stratuslab.cli.output import listed, print_json, print_table, wide_option

CONTAINER = {"X-CDMI-Specification-Version": "1.1", "Accept": "application/cdmi-container"}
CHUNK = 1024 * 1024


def _api(ctx: click.Context) -> Api:
    return ctx.find_root().obj.api  # type: ignore[no-any-return]


def _url(path: str, *, container: bool = False) -> str:
    parts = [quote(p, safe="") for p in path.strip("/").split("/") if p]
    url = "/cdmi/" + "/".join(parts)
    return url + "/" if container and parts else url


def _check(resp: httpx.Response, what: str) -> httpx.Response:
    if resp.status_code < 400:
        return resp
    try:
        body = resp.json()
        message = body["error"] + (f"; {body['hint']}" if body.get("hint") else "")
    except Exception:
        message = f"HTTP {resp.status_code} {resp.reason_phrase}; check --endpoint"
    raise CliError(f"{what}: {message}", status=resp.status_code)


def _progress() -> Progress:
    return Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), transient=True)


@click.command("ls")
@click.argument("path", default="")
@click.option("--json", "as_json", is_flag=True, help="print a JSON array")
@wide_option
@click.pass_context
def ls(ctx: click.Context, path: str, as_json: bool) -> None:
    """List a container (the top level when PATH is empty)."""
    http = _api(ctx).http
    doc = _check(http.get(_url(path, container=True) + "?children", headers=CONTAINER),
                 f"cannot list {path or '/'}").json()
    rows: list[dict[str, Any]] = [
        {"id": name, "name": name, "state": "container" if name.endswith("/") else "object",
         "owner": ""} for name in doc.get("children", [])]
    if as_json:
        print_json(listed(rows))
    else:
        print_table(rows, [("name", "name"), ("kind", "state")])


@click.command("mkdir")
@click.argument("path")
@click.pass_context
def mkdir(ctx: click.Context, path: str) -> None:
    """Create a container (its parent must exist)."""
    resp = _check(_api(ctx).http.put(_url(path, container=True), headers={
        **CONTAINER, "Content-Type": "application/cdmi-container"}), f"cannot create {path}")
    click.echo(f"{'CREATED' if resp.status_code == 201 else 'EXISTS'} {path.rstrip('/')}/")


@click.command("put")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("path")
@click.option("--mimetype", default="application/octet-stream", show_default=True)
@click.pass_context
def put(ctx: click.Context, source: Path, path: str, mimetype: str) -> None:
    """Upload a file as the data object PATH (replacing it if it exists)."""
    size = source.stat().st_size
    with _progress() as bar:
        task = bar.add_task(f"put {source.name}", total=size)

        def chunks() -> Iterator[bytes]:
            with open(source, "rb") as f:
                while chunk := f.read(CHUNK):
                    bar.advance(task, len(chunk))
                    yield chunk

        resp = _api(ctx).http.put(_url(path), content=chunks(),
                                  headers={"Content-Type": mimetype, "Content-Length": str(size)},
                                  timeout=None)
    _check(resp, f"cannot upload {source} to {path}")
    click.echo(f"STORED {path} {size} bytes sha256 {resp.headers.get('etag', '').strip(chr(34))}")


@click.command("get")
@click.argument("path")
@click.argument("target", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def get(ctx: click.Context, path: str, target: Path | None) -> None:
    """Download the data object PATH to TARGET (default: its name in this directory)."""
    target = target or Path(path.rstrip("/").rsplit("/", 1)[-1])
    partial = target.with_name(target.name + ".part")
    with _api(ctx).http.stream("GET", _url(path), timeout=None) as resp:
        if resp.status_code >= 400:
            resp.read()
            _check(resp, f"cannot download {path}")
        total = int(resp.headers.get("content-length", 0)) or None
        with _progress() as bar, open(partial, "wb") as out:
            task = bar.add_task(f"get {target.name}", total=total)
            for chunk in resp.iter_bytes(CHUNK):
                out.write(chunk)
                bar.advance(task, len(chunk))
    os.replace(partial, target)
    click.echo(f"SAVED {target} {target.stat().st_size} bytes")


@click.command("rm")
@click.argument("paths", nargs=-1, required=True)
@click.pass_context
def rm(ctx: click.Context, paths: tuple[str, ...]) -> None:
    """Delete data objects, or empty containers (PATH ending with /)."""
    http = _api(ctx).http
    for path in paths:
        _check(http.delete(_url(path, container=path.endswith("/"))), f"cannot delete {path}")
        click.echo(f"DELETED {path}")


COMMANDS: list[click.Command] = [ls, mkdir, put, get, rm]
