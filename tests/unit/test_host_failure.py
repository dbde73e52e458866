"""Host failure with two front ends on one database (simulated nodes node-a and node-b): node-a's
heartbeats stop; it goes to `error` and its running VMs to `unknown` (never poweroff); a VM run
with --ha is restarted on node-b only after the fencing command (a real script in the test's
directory) ran and succeeded; without fencing, or when it fails, nothing is restarted;
`host recover` restarts the others."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from tests.helpers.cloud import DB_FILE, drain, make_settings, seed_data_dir

from stratuslab.bootstrap import Cloud, build_cloud
from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import Principal
from stratuslab.core.errors import Conflict, DriverError, Forbidden
from stratuslab.core.hosts import HostState
from stratuslab.services.hosts import REPO
from stratuslab.services.leadership import Leadership


def fence_script(tmp_path: Path, status: int = 0) -> Path:
    script = tmp_path / "fence"
    script.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "fenced.log"}\n'
                      f'[ {status} = 0 ] || echo "BMC of $1 does not answer" >&2\nexit {status}\n')
    script.chmod(0o755)
    return script


def front_end(tmp_path: Path, name: str, fence: list[str]) -> Cloud:
    url = f"sqlite:///{tmp_path / DB_FILE}"
    return build_cloud(make_settings(tmp_path / name, server={"node_name": name,
                                                              "database_url": url},
                                     scheduler={"fence_command": fence}))


@pytest.fixture
def pair(tmp_path: Path, template_db: Path, request: pytest.FixtureRequest) -> Iterator[
        tuple[Cloud, Cloud]]:
    seed_data_dir(tmp_path, template_db)  # the shared database (PostgreSQL in its test pass)
    fence = getattr(request, "param", [str(fence_script(tmp_path)), "--power-off", "{host}"])
    a, b = front_end(tmp_path, "node-a", fence), front_end(tmp_path, "node-b", fence)
    b.identity.ensure_admin("adminpw")
    [leader] = [w for w in b.parts.workers if isinstance(w, Leadership)]
    leader.round()  # node-b's front end does the cloud-wide duties
    yield a, b
    a.stop()
    b.stop()


def admin(cloud: Cloud) -> Principal:
    return cloud.identity.check_password("admin", "adminpw")


def two_vms_on_node_a(a: Cloud, tmp_path: Path) -> tuple[int, int]:
    disk = tmp_path / "d.raw"
    disk.write_bytes(b"\0" * 4096)
    image = a.images.register(admin(a), "base", str(disk)).id or 0
    [(ha, _)] = a.compute.run(admin(a), RunInstance(image, instance_type="t1.micro", ha=True))
    [(plain, _)] = a.compute.run(admin(a), RunInstance(image, instance_type="t1.micro"))
    drain(a)
    assert {a.compute.get(admin(a), v.id or 0).host for v in (ha, plain)} == {"node-a"}
    with a.uow() as uow:  # node-a's heartbeats stop (its agent or front end is gone)
        host = uow.repo(REPO).get("node-a", for_update=True)
        host.heartbeat_at = a.clock.now() - timedelta(hours=1)
        uow.repo(REPO).update(host, a.clock.now())
        uow.commit()
    return ha.id or 0, plain.id or 0


def state(cloud: Cloud, vm_id: int) -> tuple[str, str | None]:
    vm = cloud.compute.get(admin(cloud), vm_id)
    return vm.state, vm.host


def test_a_silent_host_is_fenced_before_its_ha_vm_runs_elsewhere(pair: tuple[Cloud, Cloud],
                                                                 tmp_path: Path) -> None:
    a, b = pair
    ha, plain = two_vms_on_node_a(a, tmp_path)
    b.features.hosts.failures.round()
    assert b.services.hosts.show(None, "node-a").state is HostState.ERROR
    assert (tmp_path / "fenced.log").read_text() == "--power-off node-a\n"
    assert state(b, plain) == ("unknown", "node-a")  # not poweroff: it may still run there
    assert "host node-a missed its heartbeats" in (b.compute.get(admin(b), plain).error or "")
    assert state(b, ha) == ("pending", None)
    assert b.scheduler is not None and b.scheduler.round() == 1
    drain(b)
    assert state(b, ha) == ("running", "node-b")
    events = [e.message for e in b.compute.events(admin(b), ha)]
    assert "running -> unknown" in events[-5] and "host node-a fenced" in events[-4]

    b.features.hosts.failures.round()  # nothing left with --ha: not fenced again
    assert (tmp_path / "fenced.log").read_text().count("node-a") == 1
    b.identity.create_user(admin(b), "eve", "eve-pw-123")
    with pytest.raises(Forbidden):
        b.services.hosts.recover(b.identity.check_password("eve", "eve-pw-123"), "node-a")
    assert b.services.hosts.recover(admin(b), "node-a") == [plain]
    assert b.scheduler.round() == 1
    drain(b)
    assert state(b, plain) == ("running", "node-b")
    assert (tmp_path / "fenced.log").read_text().count("node-a") == 2


@pytest.mark.parametrize("pair", [[]], indirect=True)
def test_without_a_fencing_command_nothing_is_restarted(pair: tuple[Cloud, Cloud],
                                                        tmp_path: Path) -> None:
    a, b = pair
    ha, plain = two_vms_on_node_a(a, tmp_path)
    b.features.hosts.failures.round()
    assert state(b, ha) == state(b, plain) == ("unknown", "node-a")
    assert (b.compute.get(admin(b), ha).error or "").startswith(
        "not restarted: host node-a has no fencing command")
    with pytest.raises(Conflict, match="no fencing command") as refused:
        b.services.hosts.recover(admin(b), "node-a")
    assert "fence_command" in refused.value.hint
    with pytest.raises(Conflict, match="host node-b is monitored"):
        b.services.hosts.recover(admin(b), "node-b")
    assert b.scheduler is not None and b.scheduler.round() == 0


def test_a_failed_fencing_restarts_nothing_and_says_why(pair: tuple[Cloud, Cloud],
                                                        tmp_path: Path) -> None:
    a, b = pair
    b.features.hosts.failures.fence_command = (str(fence_script(tmp_path, status=3)), "{host}")
    ha, _ = two_vms_on_node_a(a, tmp_path)
    b.features.hosts.failures.round()
    assert state(b, ha) == ("unknown", "node-a")
    assert "BMC of node-a does not answer" in (b.compute.get(admin(b), ha).error or "")
    with pytest.raises(DriverError, match="exit 3"):
        b.services.hosts.recover(admin(b), "node-a")
    assert b.scheduler is not None and b.scheduler.round() == 0
