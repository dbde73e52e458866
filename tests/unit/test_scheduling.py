"""Scheduling over a real database (SQLite; PostgreSQL with STRATUSLAB_TEST_DATABASE_URL): a VM no
host can take waits in `pending` with the reason in its log and is placed by the scheduler loop
when capacity appears; `run-instance --count N` is placed in one decision; the allocation of a
host is always the sum of the VMs holding it, whatever the VMs went through."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from tests.helpers.cloud import drain

from stratuslab.bootstrap import Cloud
from stratuslab.core.commands import RunInstance, vm_command
from stratuslab.core.entities import Principal
from stratuslab.core.errors import CloudError
from stratuslab.core.stats import HOLDING
from stratuslab.services.hosts import REPO
from stratuslab.services.leadership import Leadership
from stratuslab.services.scheduling import Scheduler

# the simulated node's totals count 64 times (its overcommit): 1 CPU and 32 MiB -> 64 vCPUs, 2 GiB
CPUS, MEM = 1, 32


def scheduler(cloud: Cloud) -> Scheduler:
    """The cloud's scheduler, this front end being the leader (its loop runs only there)."""
    [leader] = [w for w in cloud.parts.workers if isinstance(w, Leadership)]
    leader.round()
    assert cloud.scheduler is not None and leader.is_leader()
    return cloud.scheduler


@pytest.fixture
def image(cloud: Cloud, admin: Principal, tmp_path: Path) -> int:
    disk = tmp_path / "d.raw"
    disk.write_bytes(b"\0" * 4096)
    small_host(cloud)
    return cloud.images.register(admin, "base", str(disk)).id or 0


def small_host(cloud: Cloud) -> None:
    """The served node made small (its heartbeat would read the machine again: tests send none)."""
    with cloud.uow() as uow:
        host = uow.repo(REPO).get("localhost", for_update=True)
        host.cpus, host.memory_mib = CPUS, MEM
        uow.repo(REPO).update(host, cloud.clock.now())
        uow.commit()


def run(cloud: Cloud, who: Principal, image: int, cpu: int, ram: int = 128, count: int = 1) -> list[int]:
    made = cloud.compute.run(who, RunInstance(image, instance_type="t1.micro", cpu=cpu,
                                              ram_mib=ram, count=count))
    return [vm.id or 0 for vm, _ in made]


def state(cloud: Cloud, who: Principal, vm_id: int) -> str:
    return cloud.compute.get(who, vm_id).state


def test_a_vm_no_host_can_take_waits_pending_with_the_reason_then_runs(
        cloud: Cloud, admin: Principal, image: int) -> None:
    [first] = run(cloud, admin, image, cpu=40)
    drain(cloud)
    [second] = run(cloud, admin, image, cpu=40)
    drain(cloud)
    assert (state(cloud, admin, first), state(cloud, admin, second)) == ("running", "pending")
    waiting = cloud.compute.get(admin, second)
    reason = f"no host can run VM {second}: localhost: capacity: needs 40 CPUs, 24 free"
    assert waiting.error == reason
    logged = [e.message for e in cloud.compute.events(admin, second) if e.kind == "schedule"]
    assert logged == [f"{reason}; it stays pending until a host can take it"]
    assert scheduler(cloud).round() == 0  # still no room: nothing placed, nothing logged again
    assert len([e for e in cloud.compute.events(admin, second) if e.kind == "schedule"]) == 1

    cloud.compute.act(admin, vm_command("kill", first))
    drain(cloud)
    assert scheduler(cloud).round() == 1  # the loop places it and queues its deploy
    drain(cloud)
    assert state(cloud, admin, second) == "running"
    assert cloud.compute.get(admin, second).error is None
    host = cloud.services.hosts.show(admin, "localhost")
    assert (host.allocated_vcpu, host.vms) == (40, 1)


def test_the_loop_runs_only_on_the_leader(cloud: Cloud, admin: Principal, image: int) -> None:
    [big] = run(cloud, admin, image, cpu=64, ram=4096)  # more memory than the host has
    drain(cloud)
    assert state(cloud, admin, big) == "pending"
    follower = Scheduler(cloud.uow, cloud.clock, is_leader=lambda: False,
                         overcommit=(64.0, 64.0))
    with cloud.uow() as uow:
        host = uow.repo(REPO).get("localhost", for_update=True)
        host.memory_mib = 128
        uow.repo(REPO).update(host, cloud.clock.now())
        uow.commit()
    assert follower.round() == 0
    assert scheduler(cloud).round() == 1


def test_run_instance_count_n_is_placed_in_one_decision(cloud: Cloud, admin: Principal,
                                                          image: int) -> None:
    ids = run(cloud, admin, image, cpu=20, count=4)  # 64 vCPUs: three fit
    assert cloud.runner.run_once()  # the first VM's deploy job places the whole batch
    states = {i: state(cloud, admin, i) for i in ids}
    assert sorted(states.values()) == ["pending", "running", "prolog", "prolog"] or \
        sorted(states.values()) == ["pending", "prolog", "prolog", "running"]
    assert states[ids[3]] == "pending"
    drain(cloud)
    assert [state(cloud, admin, i) for i in ids] == ["running"] * 3 + ["pending"]


def test_a_hosts_allocation_is_the_sum_of_its_vms_through_any_churn(
        cloud: Cloud, admin: Principal, image: int) -> None:
    rng = random.Random(42)
    live: list[int] = []
    seen: set[str] = set()
    for _ in range(60):
        move = rng.choice(["run", "run", "kill", "poweroff", "stop", "resume", "fail"])
        if move in ("run", "fail") or not live:
            [vm] = run(cloud, admin, image, cpu=rng.choice([8, 16, 32]), ram=rng.choice([128, 256]))
            if move == "fail":  # a deploy that fails gives its share back
                with cloud.uow() as uow:
                    row = uow.vms.get(vm)
                    assert row is not None
                    row.spec = row.spec.with_(extra={"simulate_failure": "start"})
                    uow.vms.update(row)
                    uow.commit()
            live.append(vm)
        else:
            vm = rng.choice(live)
            act = {"poweroff": "poweroff", "stop": "stop", "resume": "resume"}.get(move, "kill")
            try:
                cloud.compute.act(admin, vm_command(act, vm))
            except CloudError:  # not allowed from its state: the churn goes on
                pass
        drain(cloud)
        scheduler(cloud).round()
        drain(cloud)
        vms, _ = cloud.compute.list(admin)
        seen |= {v.state for v in cloud.compute.list(admin, include_done=True)[0]}
        holding = [v for v in vms if v.state in HOLDING and v.host == "localhost"]
        host = cloud.services.hosts.show(admin, "localhost")
        assert (host.allocated_vcpu, host.allocated_memory_mib, host.vms) == (
            sum(v.vcpu for v in holding), sum(v.memory_mib for v in holding), len(holding))
        assert host.allocated_vcpu <= CPUS * 64 and host.allocated_memory_mib <= MEM * 64
    assert {"running", "pending", "poweroff", "stopped", "done", "failed"} <= seen
    for vm in live:
        try:
            cloud.compute.act(admin, vm_command("kill", vm))
        except CloudError:  # already done or failed
            pass
    drain(cloud)
    host = cloud.services.hosts.show(admin, "localhost")
    assert (host.allocated_vcpu, host.allocated_memory_mib, host.vms) == (0, 0, 0)
