"""Issue 12 item 9: a user (or a group of users) cannot take more VMs, vCPUs, memory or disk
than an administrator allows, and the usage follows every path of a VM: run, kill, failed deploy,
resize, recover-retry and recover-delete.  Usage is read from the VM records in the transaction
that adds them, so it cannot drift."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.cloud import drain, make_settings, seed_data_dir

from stratuslab.bootstrap import Cloud, build_cloud
from stratuslab.core.commands import RunInstance, vm_command
from stratuslab.core.entities import Principal
from stratuslab.core.errors import Forbidden, InvalidInput, QuotaExceeded
from stratuslab.core.quotas import ComputeUsage, Subject, SubjectKind

ALICE = Subject(SubjectKind.USER, "alice")
PHYSICS = Subject(SubjectKind.GROUP, "physics")


def make_cloud(tmp_path: Path, template: Path, **sections: dict[str, object]) -> Cloud:
    seed_data_dir(tmp_path / "data", template)  # a migrated database (PostgreSQL: emptied)
    cloud = build_cloud(make_settings(tmp_path / "data", **sections))
    cloud.identity.ensure_admin("adminpw")
    return cloud


@pytest.fixture
def qcloud(tmp_path: Path, template_db: Path) -> Iterator[Cloud]:
    cloud = make_cloud(tmp_path, template_db)
    yield cloud
    cloud.stop()


def setup(cloud: Cloud, tmp_path: Path) -> tuple[Principal, Principal, Principal, int]:
    admin = cloud.identity.check_password("admin", "adminpw")
    cloud.identity.create_group(admin, "physics")
    for name in ("alice", "bob"):
        cloud.identity.create_user(admin, name, f"{name}pw", groups=["physics"])
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 4096)
    img = cloud.images.register(admin, "base", str(disk), public=True)
    assert img.id is not None
    return (admin, cloud.identity.check_password("alice", "alicepw"),
            cloud.identity.check_password("bob", "bobpw"), img.id)


def usage(cloud: Cloud, who: Principal, subject: Subject = ALICE) -> ComputeUsage:
    [report] = cloud.services.compute_quotas.show(who, subject)
    return report.usage


def test_quota_stops_a_user_queueing_vms_past_each_limit(qcloud: Cloud, tmp_path: Path) -> None:
    admin, alice, _, img = setup(qcloud, tmp_path)
    quotas = qcloud.services.compute_quotas
    quotas.set(admin, ALICE, {"vms": 3, "cpu": 4, "memory_mib": 4096, "disk_gb": 3})
    with pytest.raises(QuotaExceeded, match=r"user alice's quota of 3 VMs would be exceeded: "
                       r"0 in use, 4 more asked") as refused:
        qcloud.compute.run(alice, RunInstance(img, instance_type="t1.micro", count=4))
    assert "stratus quota set --user alice --vms N" in refused.value.hint
    assert qcloud.compute.list(alice)[1] == 0  # nothing half-made
    qcloud.compute.run(alice, RunInstance(img, instance_type="m1.large", ram_mib=1024))  # 2 cpu
    with pytest.raises(QuotaExceeded, match="quota of 4 vCPUs would be exceeded: 2 in use, "
                       "4 more asked"):
        qcloud.compute.run(alice, RunInstance(img, instance_type="m1.xlarge", ram_mib=512))
    with pytest.raises(QuotaExceeded, match="quota of 4096 MiB of memory"):
        qcloud.compute.run(alice, RunInstance(img, instance_type="t1.micro", ram_mib=3584))
    with pytest.raises(QuotaExceeded, match="quota of 3 GiB of disk would be exceeded: 1 in use"):
        qcloud.compute.run(alice, RunInstance(img, instance_type="t1.micro", volatile_gb=(2,)))
    assert usage(qcloud, alice) == ComputeUsage(1, 2, 1024, 1)


def test_group_quota_counts_every_member(qcloud: Cloud, tmp_path: Path) -> None:
    admin, alice, bob, img = setup(qcloud, tmp_path)
    qcloud.services.compute_quotas.set(admin, PHYSICS, {"vms": 2})
    qcloud.compute.run(alice, RunInstance(img, instance_type="t1.micro"))
    qcloud.compute.run(bob, RunInstance(img, instance_type="t1.micro"))
    with pytest.raises(QuotaExceeded, match="group physics's quota of 2 VMs"):
        qcloud.compute.run(alice, RunInstance(img, instance_type="t1.micro"))
    assert usage(qcloud, alice, PHYSICS).vms == 2


def test_usage_follows_kill_resize_and_recover(qcloud: Cloud, tmp_path: Path) -> None:
    admin, alice, _, img = setup(qcloud, tmp_path)
    qcloud.services.compute_quotas.set(admin, ALICE, {"cpu": 2, "memory_mib": 2048})
    [(vm, _)] = qcloud.compute.run(alice, RunInstance(img, instance_type="t1.micro"))
    drain(qcloud)
    assert usage(qcloud, alice) == ComputeUsage(1, 1, 512, 1)
    qcloud.compute.act(alice, vm_command("poweroff", vm.id))
    drain(qcloud)
    with pytest.raises(QuotaExceeded, match="quota of 2 vCPUs would be exceeded: 1 in use, "
                       "2 more asked"):
        qcloud.compute.resize(alice, vm.id, cpu=3)
    qcloud.compute.resize(alice, vm.id, cpu=2, ram_mib=2048)
    assert usage(qcloud, alice) == ComputeUsage(1, 2, 2048, 1)
    qcloud.compute.resize(alice, vm.id, cpu=1, ram_mib=256)  # shrinking always fits
    assert usage(qcloud, alice) == ComputeUsage(1, 1, 256, 1)
    qcloud.compute.act(alice, vm_command("kill", vm.id))
    drain(qcloud)
    assert usage(qcloud, alice) == ComputeUsage()


def test_failed_deploy_gives_back_and_retry_takes_again(tmp_path: Path,
                                                       template_db: Path) -> None:
    cloud = make_cloud(tmp_path, template_db, hypervisor={"simulated_fail": "start"})
    try:
        admin, alice, _, img = setup(cloud, tmp_path)
        quotas = cloud.services.compute_quotas
        quotas.set(admin, ALICE, {"vms": 1})
        [(vm, _)] = cloud.compute.run(alice, RunInstance(img, instance_type="t1.micro"))
        drain(cloud)
        assert cloud.compute.get(alice, vm.id).state == "failed"
        assert usage(cloud, alice) == ComputeUsage()  # the rolled-back deploy holds nothing
        [(other, _)] = cloud.compute.run(alice, RunInstance(img, instance_type="t1.micro"))
        with pytest.raises(QuotaExceeded, match="quota of 1 VMs"):
            cloud.compute.act(alice, vm_command("recover-retry", vm.id))
        assert cloud.compute.get(alice, vm.id).state == "failed"  # refused: left as it was
        cloud.compute.act(alice, vm_command("kill", other.id))
        drain(cloud)
        cloud.compute.act(alice, vm_command("recover-retry", vm.id))
        assert usage(cloud, alice).vms == 1
        drain(cloud)  # fails again
        cloud.compute.act(alice, vm_command("recover-delete", vm.id))
        drain(cloud)
        assert cloud.compute.get(alice, vm.id).state == "done"
        assert usage(cloud, alice) == ComputeUsage()
    finally:
        cloud.stop()


def test_only_admins_set_quotas_and_users_read_only_their_own(qcloud: Cloud,
                                                              tmp_path: Path) -> None:
    admin, alice, bob, _ = setup(qcloud, tmp_path)
    quotas = qcloud.services.compute_quotas
    with pytest.raises(Forbidden, match="may not change quotas"):
        quotas.set(alice, ALICE, {"vms": 100})
    with pytest.raises(Forbidden, match="may not read the quota of user alice"):
        quotas.show(bob, ALICE)
    with pytest.raises(InvalidInput, match="must be a whole number"):
        quotas.set(admin, ALICE, {"vms": -1})
    with pytest.raises(InvalidInput, match="quota 'ram' is unknown"):
        quotas.set(admin, ALICE, {"ram": 1})
    mine = quotas.show(alice)
    assert [str(r.subject) for r in mine] == ["user alice", "group physics"]
    quotas.set(admin, ALICE, {"vms": 1})
    report = quotas.set(admin, ALICE, {"cpu": 2})  # other limits kept
    assert (report.limits.vms, report.limits.cpu, report.own) == (1, 2, True)
    assert quotas.set(admin, ALICE, None).own is False


def test_settings_defaults_apply_without_own_limits(tmp_path: Path, template_db: Path) -> None:
    cloud = make_cloud(tmp_path, template_db, quotas={"user_max_vms": 1})
    try:
        _, alice, _, img = setup(cloud, tmp_path)
        cloud.compute.run(alice, RunInstance(img, instance_type="t1.micro"))
        with pytest.raises(QuotaExceeded, match="user alice's quota of 1 VMs"):
            cloud.compute.run(alice, RunInstance(img, instance_type="t1.micro"))
    finally:
        cloud.stop()


def test_concurrent_runs_cannot_both_take_the_last_slot(qcloud: Cloud, tmp_path: Path) -> None:
    admin, alice, _, img = setup(qcloud, tmp_path)
    qcloud.services.compute_quotas.set(admin, ALICE, {"vms": 2})
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def run() -> None:
        start.wait()
        try:
            qcloud.compute.run(alice, RunInstance(img, instance_type="t1.micro"))
            outcomes.append("made")
        except QuotaExceeded:
            outcomes.append("refused")

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(outcomes) == ["made", "made", "refused", "refused"]
    assert qcloud.compute.list(alice)[1] == 2 == usage(qcloud, alice).vms
