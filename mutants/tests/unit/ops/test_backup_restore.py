"""`stratus-server backup DEST` then `restore` into a new data directory: every VM, volume, image
and user is found again by a cloud built on the restored directory; damaged backups and occupied
targets are refused with nothing written."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.helpers.backupdata import check_restored, populate
from tests.helpers.cloud import DATABASE_URL_ENV, make_settings

from stratuslab.__main__ import main
from stratuslab.bootstrap import Cloud, build_cloud

pytestmark = pytest.mark.skipif(
    bool(__import__("os").environ.get(DATABASE_URL_ENV)),
    reason="the SQLite path; PostgreSQL backups are tested in tests/integration/db")


def _run(*argv: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(argv))
    return res.exit_code, res.output


def test_backup_then_restore_into_a_new_data_directory_finds_everything(
        cloud: Cloud, tmp_path: Path) -> None:
    made = populate(cloud, tmp_path)
    old = cloud.settings.data_dir
    dest = tmp_path / "backup"
    code, out = _run("backup", "--data-dir", str(old), str(dest))  # online: the cloud is open
    assert code == 0, out
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    manifest = json.loads((dest / "manifest.json").read_text())
    assert [(i["id"], i["sha1"], i["present"]) for i in manifest["images"]] == [
        (made["image"], made["sha1"], True)]
    new = tmp_path / "restored"
    code, out = _run("restore", "--data-dir", str(new), str(dest))
    assert code == 0, out
    restored = build_cloud(make_settings(new), create_db=False)
    try:
        check_restored(restored, made, new / "images")
    finally:
        restored.stop()


def test_restore_refuses_an_occupied_target_and_a_damaged_image(cloud: Cloud, tmp_path: Path) -> None:
    populate(cloud, tmp_path)
    dest = tmp_path / "backup"
    assert _run("backup", "--data-dir", str(cloud.settings.data_dir), str(dest))[0] == 0
    code, out = _run("backup", "--data-dir", str(cloud.settings.data_dir), str(dest))
    assert code == 2 and f"backup destination {dest} is not empty" in out
    code, out = _run("restore", "--data-dir", str(cloud.settings.data_dir), str(dest))
    assert code == 2 and "already has a database" in out and "new data directory" in out
    [image_file] = (dest / "images").iterdir()
    image_file.write_bytes(b"\2" * 8192)
    target = tmp_path / "restored"
    code, out = _run("restore", "--data-dir", str(target), str(dest))
    assert code == 2 and "does not match its SHA-1" in out and "nothing was restored" in out
    assert not target.exists()
    code, out = _run("restore", "--data-dir", str(target), str(tmp_path))
    assert code == 2 and "is not a StratusLab backup" in out
