"""Concurrent placements never over-allocate a host, on a real PostgreSQL (a private cluster) and on
SQLite: several schedulers (as several front ends would) place the same pending VMs at once, one
by one and in batches, onto hosts with room for fewer VMs than asked for."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.cloud import make_settings, reset_database, seed_data_dir

from stratuslab.bootstrap import Cloud, build_cloud
from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import Vm
from stratuslab.core.hosts import Host, HostState
from stratuslab.services.hosts import REPO
from stratuslab.services.scheduling import Scheduler

pytestmark = pytest.mark.integration

HOSTS, CPUS, VMS, THREADS = 4, 4, 40, 8


@pytest.fixture(params=["sqlite", "postgresql"])
def cloud(request: pytest.FixtureRequest, tmp_path: Path, template_db: Path) -> Iterator[Cloud]:
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        reset_database(url)
        settings = make_settings(tmp_path, server={"database_url": url})
    else:
        seed_data_dir(tmp_path, template_db)
        settings = make_settings(tmp_path, server={"database_url":
                                                   f"sqlite:///{tmp_path / 'stratuslab.db'}"})
    c = build_cloud(settings)
    c.identity.ensure_admin("adminpw")
    yield c
    c.stop()


def pending_vms(cloud: Cloud, tmp_path: Path) -> list[Vm]:
    """VMS pending VMs of 1 vCPU; the served node disabled; HOSTS hosts of CPUS processors."""
    admin = cloud.identity.check_password("admin", "adminpw")
    disk = tmp_path / "d.raw"
    disk.write_bytes(b"\0" * 4096)
    image = cloud.images.register(admin, "base", str(disk)).id or 0
    made = cloud.compute.run(admin, RunInstance(image, instance_type="t1.micro", cpu=1,
                                                ram_mib=256, count=VMS))
    cloud.services.hosts.set_state(admin, "localhost", HostState.DISABLED)
    now = cloud.clock.now()
    with cloud.uow() as uow:
        for i in range(HOSTS):
            uow.repo(REPO).add(Host(name=f"h{i}", state=HostState.MONITORED, cpus=CPUS,
                                    memory_mib=65536, heartbeat_at=now), now)
        uow.commit()
    return [vm for vm, _ in made]


def test_concurrent_placements_never_put_more_on_a_host_than_it_has(cloud: Cloud,
                                                                     tmp_path: Path) -> None:
    vms = pending_vms(cloud, tmp_path)
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def front_end(seed: int) -> None:
        mine = list(vms)
        random.Random(seed).shuffle(mine)
        scheduler = Scheduler(cloud.uow, cloud.clock, policy=("pack", "stripe")[seed % 2])
        try:
            start.wait()
            if seed % 4 == 3:  # some place everything in one decision
                scheduler.place_many(mine, served=None)
            for vm in mine:
                scheduler.place_many([vm], served=None)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=front_end, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors

    hosts = {h.name: h for h in cloud.services.hosts.list() if h.name != "localhost"}
    assert {name: h.allocated_vcpu for name, h in hosts.items()} == {
        f"h{i}": CPUS for i in range(HOSTS)}  # full, never beyond
    with cloud.uow(readonly=True) as uow:
        rows = [uow.vms.get(vm.id or 0) for vm in vms]
        scheduled = [e for vm in vms for e in uow.events.for_vm(vm.id or 0)
                     if e.message.endswith("-> prolog (scheduled)")]
    placed = [r for r in rows if r is not None and r.state == "prolog"]
    waiting = [r for r in rows if r is not None and r.state == "pending"]
    assert (len(placed), len(waiting)) == (HOSTS * CPUS, VMS - HOSTS * CPUS)
    assert sorted(e.vm_id for e in scheduled) == sorted(r.id for r in placed)  # each placed once
    assert all(r.error and r.error.startswith(f"no host can run VM {r.id}") for r in waiting)
