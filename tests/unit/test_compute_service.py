"""Compute use cases over a real SQLite database and the simulated hypervisor."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from tests.helpers.cloud import drain, make_settings
from tests.helpers.waits import wait_until

from stratuslab.bootstrap import Cloud, build_cloud
from stratuslab.core.commands import RunInstance, vm_command
from stratuslab.core.entities import Principal
from stratuslab.core.errors import InvalidInput, InvalidState, NotFound
from stratuslab.services.jobs import JobRunner


def image(cloud: Cloud, who: Principal, tmp_path: Path) -> int:
    f = tmp_path / "disk.raw"
    f.write_bytes(b"\0" * 4096)
    img = cloud.images.register(who, "base", str(f))
    assert img.id is not None
    return img.id


@pytest.fixture
def alice(cloud: Cloud, admin: Principal) -> Principal:
    cloud.identity.create_user(admin, "alice", "alicepw")
    return cloud.identity.check_password("alice", "alicepw")


def test_run_instance_boots_and_records_events(cloud: Cloud, admin: Principal, tmp_path: Path) -> None:
    img = image(cloud, admin, tmp_path)
    [(vm, job)] = cloud.compute.run(admin, RunInstance(img, name="web"))
    assert vm.state == "pending" and job.state == "queued"
    drain(cloud)
    vm = cloud.compute.get(admin, vm.id)
    assert vm.state == "running" and vm.host == "localhost" and vm.name == "web"
    kinds = [e.message for e in cloud.compute.events(admin, vm.id)]
    assert kinds[0].startswith("run-instance")
    assert "boot -> running (boot done)" in kinds
    assert cloud.compute.job(admin, job.id).state == "done"


def test_instance_type_defaults_and_overrides(cloud: Cloud, admin: Principal, tmp_path: Path) -> None:
    img = image(cloud, admin, tmp_path)
    [(vm, _)] = cloud.compute.run(admin, RunInstance(img))
    assert (vm.instance_type, vm.vcpu, vm.memory_mib) == ("m1.small", 1, 1536)
    [(vm, _)] = cloud.compute.run(admin, RunInstance(img, instance_type="m1.large", ram_mib=1000))
    assert (vm.vcpu, vm.memory_mib) == (2, 1000)


def test_idempotency_key_returns_the_first_vms(cloud: Cloud, admin: Principal, tmp_path: Path) -> None:
    img = image(cloud, admin, tmp_path)
    first = cloud.compute.run(admin, RunInstance(img, count=2, idempotency_key="k1"))
    again = cloud.compute.run(admin, RunInstance(img, count=2, idempotency_key="k1"))
    assert [v.id for v, _ in first] == [v.id for v, _ in again]
    assert cloud.compute.list(admin)[1] == 2


@pytest.mark.parametrize(
    ("cmd", "message"),
    [
        (RunInstance(999), "image 999 does not exist"),
        (RunInstance(1, instance_type="m9.huge"), "instance type 'm9.huge' does not exist"),
        (RunInstance(1, cpu=-1), "--cpu -1 is out of range"),
        (RunInstance(1, count=0), "instance count 0"),
        (RunInstance(1, volatile_gb=(0,)), "volatile disk of 0 GB"),
        (RunInstance(1, volatile_gb=(10**6,)), "volatile disk of 1000000 GB"),
        (RunInstance(1, name="bad name;rm"), "not a valid host name"),
        (RunInstance(1, context={"1bad": "x"}), "context key"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    cloud: Cloud, admin: Principal, tmp_path: Path, cmd: RunInstance, message: str
) -> None:
    image(cloud, admin, tmp_path)
    with pytest.raises((InvalidInput, NotFound), match=message):
        cloud.compute.run(admin, cmd)
    assert cloud.compute.list(admin, include_done=True)[1] == 0
    assert cloud.compute.jobs(admin) == []


def test_users_see_only_their_own_vms(
    cloud: Cloud, admin: Principal, alice: Principal, tmp_path: Path
) -> None:
    img = image(cloud, admin, tmp_path)
    [(vm, _)] = cloud.compute.run(admin, RunInstance(img))
    with pytest.raises(NotFound, match=f"VM {vm.id} does not exist"):
        cloud.compute.get(alice, vm.id)
    with pytest.raises(NotFound):
        cloud.compute.act(alice, vm_command("kill", vm.id))
    assert cloud.compute.list(alice) == ([], 0)
    # admin's private image is not alice's to use either
    with pytest.raises(NotFound, match="image"):
        cloud.compute.run(alice, RunInstance(img))


def test_action_not_allowed_names_state_and_allowed_states(
    cloud: Cloud, admin: Principal, tmp_path: Path
) -> None:
    img = image(cloud, admin, tmp_path)
    [(vm, _)] = cloud.compute.run(admin, RunInstance(img))
    with pytest.raises(InvalidState, match=r"is pending; cannot suspend \(allowed from: running\)"):
        cloud.compute.act(admin, vm_command("suspend", vm.id))
    with pytest.raises(InvalidInput, match="action 'fly' is unknown"):
        cloud.compute.act(admin, vm_command("fly", vm.id))


def test_full_lifecycle(cloud: Cloud, admin: Principal, tmp_path: Path) -> None:
    img = image(cloud, admin, tmp_path)
    [(vm, _)] = cloud.compute.run(admin, RunInstance(img))
    drain(cloud)
    for action, expected in [("suspend", "suspended"), ("resume", "running"), ("reboot", "running"),
                             ("poweroff", "poweroff"), ("start", "running"), ("stop", "stopped"),
                             ("resume", "running"), ("shutdown", "done")]:
        cloud.compute.act(admin, vm_command(action, vm.id))
        drain(cloud)
        assert cloud.compute.get(admin, vm.id).state == expected, action
    # the instance directory went to quarantine
    node = cloud.nodes["localhost"]
    assert [q.vm_id for q in node.storage.quarantined()] == [vm.id]


def test_driver_failure_fails_the_vm_with_the_drivers_message_and_cleans_up(
    cloud: Cloud, admin: Principal, tmp_path: Path
) -> None:
    img = image(cloud, admin, tmp_path)
    [(vm, job)] = cloud.compute.run(admin, RunInstance(img, extra={"simulate_failure": "start"}))
    drain(cloud)
    vm = cloud.compute.get(admin, vm.id)
    assert vm.state == "failed"
    assert "simulated start failure" in (vm.error or "")
    assert cloud.compute.job(admin, job.id).state == "failed"
    assert cloud.nodes["localhost"].hypervisor.list_vms() == []
    assert not (tmp_path / "instances" / str(vm.id)).exists()
    events = cloud.compute.events(admin, vm.id)
    assert any(e.kind == "driver-error" and "simulated start failure" in e.message for e in events)
    # recover: retry after the cause is gone, or delete
    cloud.compute.act(admin, vm_command("recover-delete", vm.id))
    drain(cloud)
    assert cloud.compute.get(admin, vm.id).state == "done"


def test_job_of_a_dead_server_is_resumed_by_the_next_one(
    cloud: Cloud, admin: Principal, tmp_path: Path
) -> None:
    img = image(cloud, admin, tmp_path)
    [(vm, job)] = cloud.compute.run(admin, RunInstance(img))
    # a runner claims the job and dies mid-way (prolog done, boot not started)
    now = cloud.runner.clock.now()
    with cloud.runner.uow() as uow:
        claimed = uow.jobs.claim_next("dead-runner", now - timedelta(minutes=5),
                                      now - timedelta(minutes=6))
        uow.vms.cas_state(vm.id, "pending", "boot", host="localhost")
        uow.commit()
    assert claimed is not None and claimed.id == job.id
    # before the heartbeat goes stale nobody takes it; after, a new runner does
    fresh = JobRunner(cloud.runner.uow, cloud.runner.clock, {}, default=cloud.runner.default)
    drain_runner(fresh)
    assert cloud.compute.get(admin, vm.id).state == "running"
    assert cloud.compute.job(admin, job.id).state == "done"


def drain_runner(runner: JobRunner) -> None:
    while runner.run_once():
        pass


def test_guest_poweroff_is_reflected(cloud: Cloud, admin: Principal, tmp_path: Path) -> None:
    img = image(cloud, admin, tmp_path)
    [(vm, _)] = cloud.compute.run(admin, RunInstance(img))
    drain(cloud)
    hv = cloud.nodes["localhost"].hypervisor
    hv.set_event_sink(cloud.reconciler.observe)
    hv.simulate_guest_poweroff(vm.id)  # type: ignore[attr-defined]
    assert cloud.compute.get(admin, vm.id).state == "poweroff"


def test_reconciler_flags_a_vanished_vm_unknown(cloud: Cloud, admin: Principal, tmp_path: Path) -> None:
    img = image(cloud, admin, tmp_path)
    [(vm, _)] = cloud.compute.run(admin, RunInstance(img))
    drain(cloud)
    (tmp_path / "simulated" / f"vm-{vm.id}.json").unlink()
    cloud.reconciler.sync()
    vm = cloud.compute.get(admin, vm.id)
    assert vm.state == "unknown" and "missing" in (vm.error or "")


def test_schema_must_be_current(tmp_path: Path) -> None:
    from stratuslab.core.errors import Unavailable
    from stratuslab.persistence import db

    settings = make_settings(tmp_path)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    db.downgrade(engine, "base")
    engine.dispose()
    with pytest.raises(Unavailable, match="stratus-server db upgrade"):
        build_cloud(settings, create_db=False)


def test_recover_failure_from_a_twin_cleans_the_node(
    cloud: Cloud, admin: Principal, tmp_path: Path
) -> None:
    img = image(cloud, admin, tmp_path)
    [(vm, _)] = cloud.compute.run(admin, RunInstance(img))
    drain(cloud)
    # a suspend that fails leaves the VM in save-failure, still running on the node
    cloud.nodes["localhost"].hypervisor.fail["suspend"] = "disk full"  # type: ignore[attr-defined]
    cloud.compute.act(admin, vm_command("suspend", vm.id))
    drain(cloud)
    failed = cloud.compute.get(admin, vm.id)
    assert failed.state == "save-failure" and "disk full" in (failed.error or "")
    cloud.compute.act(admin, vm_command("recover-failure", vm.id))
    drain(cloud)
    assert cloud.compute.get(admin, vm.id).state == "failed"
    assert cloud.nodes["localhost"].hypervisor.list_vms() == []
    assert not (tmp_path / "instances" / str(vm.id)).exists()


def test_a_user_cannot_import_a_file_of_the_server(
    cloud: Cloud, alice: Principal, tmp_path: Path
) -> None:
    from stratuslab.core.errors import Forbidden

    secret = tmp_path / "server-secret"
    secret.write_bytes(b"private key material")
    with pytest.raises(Forbidden, match="only admins may import server files"):
        cloud.images.register(alice, "steal", str(secret))
    with pytest.raises(Forbidden):
        cloud.images.register(alice, "steal", f"file://{secret}")
    assert cloud.images.list(alice) == []


def test_reserved_context_keys_are_refused_before_anything_is_made(
    cloud: Cloud, admin: Principal, tmp_path: Path
) -> None:
    img = image(cloud, admin, tmp_path)
    for key in ("HOSTNAME", "ETH0_IP", "ssh_public_key"):
        with pytest.raises(InvalidInput, match=f"context key {key} is set by StratusLab"):
            cloud.compute.run(admin, RunInstance(img, context={key: "x"}))
    assert cloud.compute.list(admin, include_done=True)[1] == 0


def test_a_kill_that_overtakes_a_deploy_supersedes_it_quietly(
    cloud: Cloud, admin: Principal, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    img = image(cloud, admin, tmp_path)
    cloud.nodes["localhost"].hypervisor.boot_delay = 1.0  # type: ignore[attr-defined]
    [(vm, job)] = cloud.compute.run(admin, RunInstance(img))
    deploy = threading.Thread(target=cloud.runner.run_once)
    deploy.start()
    # the driver is booting it now (boot_delay keeps it there for a second)
    wait_until(lambda: cloud.compute.get(admin, vm.id).state == "boot", timeout=30,
               interval=0.02, message=f"VM {vm.id} never reached boot")
    cloud.compute.act(admin, vm_command("kill", vm.id))
    deploy.join(10)
    drain(cloud)
    assert cloud.compute.get(admin, vm.id).state == "done"
    assert cloud.compute.job(admin, job.id).state == "done"  # superseded, not failed
    assert "crashed" not in caplog.text
    assert cloud.nodes["localhost"].hypervisor.list_vms() == []
