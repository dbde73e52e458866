"""Issue 12 item 9 (capacity): a VM the hosts cannot hold is refused at once with a message
saying why, instead of waiting in `pending` for ever; administrators are held to it too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.cloud import drain, make_settings, seed_data_dir

from stratuslab.bootstrap import Cloud, build_cloud
from stratuslab.core.commands import RunInstance, vm_command
from stratuslab.core.entities import Principal
from stratuslab.core.quotas import CapacityExceeded


@pytest.fixture
def small_host(tmp_path: Path, template_db: Path) -> Iterator[tuple[Cloud, Principal, int]]:
    seed_data_dir(tmp_path / "data", template_db)
    cloud = build_cloud(make_settings(tmp_path / "data", hypervisor={
        "capacity_cpu": 4, "capacity_memory_mib": 4096}))
    cloud.identity.ensure_admin("adminpw")
    admin = cloud.identity.check_password("admin", "adminpw")
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 4096)
    img = cloud.images.register(admin, "base", str(disk), public=True)
    assert img.id is not None
    yield cloud, admin, img.id
    cloud.stop()


def test_vm_larger_than_any_host_is_refused_not_queued(
        small_host: tuple[Cloud, Principal, int]) -> None:
    cloud, admin, img = small_host
    with pytest.raises(CapacityExceeded, match="needs 8192 MiB of memory per VM, more than the "
                       "largest host has \\(4096\\); it could never start"):
        cloud.compute.run(admin, RunInstance(img, instance_type="m1.xlarge"))
    with pytest.raises(CapacityExceeded, match="needs 8 vCPUs per VM"):
        cloud.compute.run(admin, RunInstance(img, instance_type="t1.micro", cpu=8))
    assert cloud.compute.list(admin)[1] == 0


def test_vms_beyond_what_is_left_are_refused_until_some_end(
        small_host: tuple[Cloud, Principal, int]) -> None:
    cloud, admin, img = small_host
    [(first, _)] = cloud.compute.run(admin, RunInstance(img, instance_type="m1.medium"))  # 3072
    with pytest.raises(CapacityExceeded, match="the hosts cannot hold 1 VM\\(s\\) of 1 vCPU and "
                       "1536 MiB: it needs 1536 MiB of memory, and 3072 of their 4096 are taken "
                       "by 1 VMs") as refused:
        cloud.compute.run(admin, RunInstance(img, instance_type="m1.small"))
    assert "try again when VMs have ended" in refused.value.hint
    with pytest.raises(CapacityExceeded):  # a batch is all or nothing
        cloud.compute.run(admin, RunInstance(img, instance_type="t1.micro", count=3))
    assert cloud.compute.list(admin)[1] == 1
    drain(cloud)
    cloud.compute.act(admin, vm_command("kill", first.id))
    drain(cloud)
    made = cloud.compute.run(admin, RunInstance(img, instance_type="t1.micro", count=3))
    assert len(made) == 3
