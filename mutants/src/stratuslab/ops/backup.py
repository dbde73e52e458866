"""`stratus-server backup DEST` and `restore SOURCE`: the cloud database (SQLite online backup
API, or pg_dump for PostgreSQL), the all-in-one marketplace database, and the image store
(files plus a manifest of every image's file, size and SHA-1, read from the backed-up database
so it matches it).  Volumes and running instances' disks are not included: they belong to the
storage backends (back them up with their own tools).

A restore goes into a data directory that has no database yet; it checks every image file
against the manifest before anything is written, and points the image rows at the new image
store when the data directory moved.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import click
from sqlalchemy import Engine, select, update

from stratuslab import __version__
from stratuslab.core.errors import CloudError, Conflict, InvalidInput
from stratuslab.drivers import _process
from stratuslab.ops.common import config_option, data_dir_option, fail, load
from stratuslab.persistence import db as dbm
from stratuslab.persistence.tables import images
from stratuslab.settings import Settings

MANIFEST = "manifest.json"
FORMAT = 1
DUMP_TIMEOUT = 3600.0


def _sqlite_copy(source: Path, dest: Path) -> None:
    """A consistent copy of a live SQLite database (the online backup API), as one file."""
    src = sqlite3.connect(str(source), timeout=30)
    dst = sqlite3.connect(str(dest))
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()
        src.close()


def _pg_env(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password (which goes to PGPASSWORD, not onto a command line)."""
    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    env: dict[str, str] = {}
    netloc = parts.netloc
    if parts.password is not None:
        env["PGPASSWORD"] = parts.password
        netloc = netloc.replace(f":{parts.password}@", "@", 1)
    return urlunsplit(parts._replace(netloc=netloc)), env


def _sha1(path: Path) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _image_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(images.c.id, images.c.name, images.c.path, images.c.sha1, images.c.size_bytes,
                   images.c.kernel, images.c.initrd).order_by(images.c.id))]


def backup(settings: Settings, dest: Path, *, with_images: bool = True) -> dict[str, Any]:
    """Write a backup into `dest` (a new or empty directory); return its manifest."""
    url = settings.database_url
    if not dbm.exists(url):
        raise InvalidInput(f"there is no database at {dbm.sqlite_path(url)} to back up",
                           hint="check --data-dir/--config")
    if dest.exists() and any(dest.iterdir()):
        raise Conflict(f"backup destination {dest} is not empty",
                       hint="give a new directory, e.g. DEST/$(date +%F)")
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(dest, 0o700)  # password hashes and tokens are inside
    sqlite = dbm.sqlite_path(url)
    if sqlite is not None:
        _sqlite_copy(sqlite, dest / "stratuslab.db")
        snapshot = dbm.make_engine(f"sqlite:///{dest / 'stratuslab.db'}")
    else:
        plain, env = _pg_env(url)
        _process.run(["pg_dump", "--format=custom", "--no-owner",
                      f"--file={dest / 'stratuslab.pgdump'}", f"--dbname={plain}"],
                      env=env, timeout=DUMP_TIMEOUT)
        snapshot = dbm.make_engine(url)
    try:
        schema = dbm.current_revision(snapshot)
        rows = _image_rows(snapshot)
    finally:
        snapshot.dispose()
    market = settings.data_dir / "marketplace.db"
    if market.is_file() and not settings.marketplace.database_url:
        _sqlite_copy(market, dest / "marketplace.db")
    manifest: dict[str, Any] = {
        "format": FORMAT, "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "stratuslab": __version__, "schema": schema,
        "database": "sqlite" if sqlite is not None else "postgresql",
        "data_dir": str(settings.data_dir), "images_dir": str(settings.data_dir / "images"),
        "marketplace": (dest / "marketplace.db").is_file(), "images_included": with_images,
        "images": [],
    }
    if with_images:
        (dest / "images").mkdir(mode=0o700)
    for row in rows:
        path = Path(row["path"])
        entry = {"id": row["id"], "name": row["name"], "file": path.name, "sha1": row["sha1"],
                 "size": row["size_bytes"], "present": path.is_file()}
        if with_images and path.is_file() and not (dest / "images" / path.name).exists():
            shutil.copy2(path, dest / "images" / path.name)
        manifest["images"].append(entry)
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{source} is not a StratusLab backup ({MANIFEST}: {exc})",
                           hint="give the directory that stratus-server backup wrote") from None
    if manifest.get("format") != FORMAT:
        raise InvalidInput(f"backup {source} has format {manifest.get('format')!r}; this server "
                           f"reads format {FORMAT}")
    return manifest


def _check_images(source: Path, manifest: dict[str, Any]) -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for entry in manifest["images"]:
        if not entry["present"] or not manifest["images_included"]:
            continue
        path = source / "images" / entry["file"]
        if not path.is_file() or path.stat().st_size != entry["size"] or _sha1(path) != entry["sha1"]:
            raise InvalidInput(f"backup {source}: image {entry['id']} ({entry['name']}) file "
                               f"images/{entry['file']} is missing or does not match its SHA-1 "
                               f"{entry['sha1']}; nothing was restored",
                               hint="restore from an intact copy of the backup")
        found.append((path, entry))
    return found


def restore(settings: Settings, source: Path) -> dict[str, Any]:
    """Restore `source` into the data directory (and database) of `settings`."""
    manifest = read_manifest(source)
    url = settings.database_url
    sqlite = dbm.sqlite_path(url)
    if (sqlite is None) != (manifest["database"] == "postgresql"):
        raise InvalidInput(f"backup {source} holds a {manifest['database']} database but the "
                           f"settings name {'PostgreSQL' if sqlite is None else 'SQLite'}",
                           hint="restore with settings of the same kind of database")
    if sqlite is not None and sqlite.exists():
        raise Conflict(f"data directory {settings.data_dir} already has a database ({sqlite})",
                       hint="restore into a new data directory, or move the old one away first")
    files = _check_images(source, manifest)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if sqlite is None:
        engine = dbm.make_engine(url)
        try:
            if dbm.current_revision(engine) is not None:
                raise Conflict("the PostgreSQL database of these settings is not empty",
                               hint="restore into a new, empty database")
        finally:
            engine.dispose()
        plain, env = _pg_env(url)
        _process.run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={plain}",
                      str(source / "stratuslab.pgdump")], env=env, timeout=DUMP_TIMEOUT)
    else:
        _sqlite_copy(source / "stratuslab.db", sqlite)
    if manifest["marketplace"] and not (settings.data_dir / "marketplace.db").exists():
        _sqlite_copy(source / "marketplace.db", settings.data_dir / "marketplace.db")
    images_dir = settings.data_dir / "images"
    images_dir.mkdir(exist_ok=True)
    for path, _entry in files:
        if not (images_dir / path.name).exists():
            shutil.copy2(path, images_dir / path.name)
    _repoint_images(url, manifest["images_dir"], str(images_dir))
    return manifest


def _repoint_images(url: str, old: str, new: str) -> None:
    if old == new:
        return
    engine = dbm.make_engine(url)
    try:
        with engine.begin() as conn:
            rows = conn.execute(select(images.c.id, images.c.path, images.c.kernel,
                                       images.c.initrd)).all()
            for row in rows:
                values = {k: new + v[len(old):] for k, v in row._mapping.items()
                          if k != "id" and isinstance(v, str) and v.startswith(old + "/")}
                if values:
                    conn.execute(update(images).where(images.c.id == row.id).values(**values))
    finally:
        engine.dispose()


@click.command("backup")
@config_option
@data_dir_option
@click.option("--no-images", is_flag=True, help="only the manifest of the image store, no files")
@click.argument("dest", type=click.Path(file_okay=False))
def backup_command(config: str | None, data_dir: str | None, no_images: bool, dest: str) -> None:
    """Back up the cloud (online: servers may keep running) into the new directory DEST."""
    try:
        manifest = backup(load(config, data_dir), Path(dest), with_images=not no_images)
    except CloudError as exc:
        fail(exc)
    click.echo(f"backup of {manifest['data_dir']} (schema {manifest['schema']}, "
               f"{len(manifest['images'])} images) written to {dest}")


@click.command("restore")
@config_option
@data_dir_option
@click.argument("source", type=click.Path(file_okay=False, exists=True))
def restore_command(config: str | None, data_dir: str | None, source: str) -> None:
    """Restore the backup SOURCE into a new data directory (or empty PostgreSQL database)."""
    try:
        settings = load(config, data_dir)
        manifest = restore(settings, Path(source))
    except CloudError as exc:
        fail(exc)
    click.echo(f"restored {source} (schema {manifest['schema']}) into {settings.data_dir}; "
               f"start the server, or first: stratus-server db upgrade --data-dir "
               f"{settings.data_dir} if this server is newer")
