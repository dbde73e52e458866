"""A cloud with one of everything a backup must keep: users, an image, a running VM, a volume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers.cloud import drain

from stratuslab.core.commands import RunInstance
from stratuslab.core.volumes import CreateVolume


def populate(cloud: Any, tmp_path: Path) -> dict[str, Any]:
    admin = cloud.identity.check_password("admin", "adminpw")
    cloud.identity.create_user(admin, "alice", "alicepw")
    alice = cloud.identity.check_password("alice", "alicepw")
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\1" * 8192)
    image = cloud.images.register(admin, "base", str(disk), public=True)
    made = cloud.compute.run(alice, RunInstance(image_id=image.id or 0, instance_type="t1.micro",
                                                name="web"))
    drain(cloud)
    volume = cloud.services.volumes.create(alice, CreateVolume(size_gb=1))
    return {"vm": made[0][0].id, "image": image.id, "sha1": image.sha1, "volume": volume.uuid}


def check_restored(restored: Any, made: dict[str, Any], images_dir: Path) -> None:
    """Every user, VM, image (with its bytes) and volume of `populate` is there."""
    admin = restored.identity.check_password("admin", "adminpw")
    alice = restored.identity.check_password("alice", "alicepw")
    assert {u.name for u in restored.identity.list_users(admin)} >= {"admin", "alice"}
    vms, _total = restored.compute.list(alice)
    assert [(vm.id, vm.name, vm.state) for vm in vms] == [(made["vm"], "web", "running")]
    [image] = restored.images.list(alice)
    assert image.id == made["image"] and Path(image.path).parent == images_dir
    assert Path(image.path).read_bytes() == b"\1" * 8192
    volumes = restored.services.volumes.describe(alice)
    assert made["volume"] in {v.uuid for v in volumes}
