"""Several `stratus-server` front ends on one real PostgreSQL database (simulated nodes).

Each front end serves its own node: it places new VMs there and runs the jobs of the VMs there,
whichever front end a request came through; a second front end claiming the same node name is
refused; front ends starting together on an empty database both come up (one migrates); one
leader does the cloud-wide duties and another takes over when it dies; while a front end is down
its VMs' jobs wait for it instead of failing elsewhere.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.cloud import reset_database
from tests.helpers.servers import Server, free_port
from tests.helpers.waits import wait_until

pytestmark = pytest.mark.integration


def front_end(base: Path, name: str, url: str) -> Server:
    cfg = base / f"{name}.toml"
    cfg.write_text(f'[server]\nnode_name = "{name}"\ndatabase_url = "{url}"\n'
                   "[hypervisor]\nsimulated_boot_delay = 0.2\n")
    return Server(base / name, free_port(), args=["--hypervisor", "simulated", "--config", str(cfg)])


@pytest.fixture
def pair(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    reset_database(postgres_url)
    a, b = front_end(tmp_path, "node-a", postgres_url), front_end(tmp_path, "node-b", postgres_url)
    errors: list[BaseException] = []

    def start(srv: Server) -> None:
        try:
            srv.start(timeout=120)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in (a, b)]
    for t in threads:  # together, on an empty database: one migrates, the other waits for it
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors, errors
        yield a, b
    finally:
        for srv in (a, b):
            srv.stop()
            srv.reap()


def states(srv: Server) -> dict[int, tuple[str, str]]:
    return {vm["id"]: (vm["state"], vm.get("host") or "") for vm in srv.cli_json("describe-instance")}


def state_of(srv: Server, vm_id: int) -> str:
    [vm] = srv.cli_json("describe-instance", str(vm_id))
    return str(vm["state"])


def test_each_front_end_runs_the_jobs_of_its_own_nodes_vms(pair: tuple[Server, Server],
                                                           tmp_path: Path) -> None:
    a, b = pair
    disk = tmp_path / "disk.raw"
    disk.write_bytes(os.urandom(65536))
    image = a.cli("image", "register", "base", str(disk), "--public").stdout.strip()
    for srv in (a, b):
        srv.cli("run-instance", image, "-n", "6", "-t", "t1.micro")

    def all_running() -> dict[int, tuple[str, str]] | None:
        now = states(a)
        return now if len(now) == 12 and all(st == "running" for st, _ in now.values()) else None

    seen = wait_until(all_running, timeout=120, message=lambda: str(states(a)))
    assert {host for _, host in seen.values()} <= {"node-a", "node-b"}  # a pending VM goes to
    # whichever front end claims its deploy first, on the node that front end serves

    # every VM is killed through the front end that does NOT serve its node: the job runs where
    # the VM is
    serving = {"node-a": a, "node-b": b}
    for vm_id, (_, host) in seen.items():
        other = b if serving[host] is a else a
        other.cli("kill-instance", str(vm_id))
    wait_until(lambda: all(st == "done" for st, _ in states(b).values()), timeout=120,
               message=lambda: str(states(b)))
    for vm_id in seen:
        events = a.cli("describe-instance", "-v", str(vm_id)).stdout
        assert "failure" not in events and "unknown" not in events, events


def test_a_second_front_end_for_the_same_node_is_refused(pair: tuple[Server, Server],
                                                         postgres_url: str,
                                                         tmp_path: Path) -> None:
    (tmp_path / "twin").mkdir()
    twin = front_end(tmp_path / "twin", "node-a", postgres_url)
    with pytest.raises(RuntimeError) as refused:
        twin.start(timeout=60)
    assert "node 'node-a' is already served by another stratus-server" in str(refused.value)
    assert "node_name" in str(refused.value)


def test_leadership_moves_and_a_dead_front_ends_jobs_wait_for_it(pair: tuple[Server, Server],
                                                                tmp_path: Path) -> None:
    a, b = pair
    became = re.compile(r"front end (node-[ab]) is now the leader")
    leaders = wait_until(lambda: [m.group(1) for s in (a, b) for m in became.finditer(s.log())],
                         timeout=30, message="no front end became the leader")
    assert len(leaders) == 1
    leader, follower = (a, b) if leaders[0] == "node-a" else (b, a)

    disk = tmp_path / "disk.raw"
    disk.write_bytes(os.urandom(65536))
    image = leader.cli("image", "register", "base", str(disk), "--public").stdout.strip()
    [vm] = leader.cli_json("run-instance", image, "-t", "t1.micro")
    wait_until(lambda: states(follower)[vm["id"]][0] == "running", timeout=60,
               message="the leader's VM did not start")

    leader.kill()  # SIGKILL: the follower takes over the leadership...
    wait_until(lambda: became.search(follower.log()), timeout=30,
               message=lambda: "no takeover: " + follower.log()[-2000:])
    # ...but not the dead front end's VMs: their jobs wait for it
    follower.cli("kill-instance", "--no-wait", str(vm["id"]))
    [other] = follower.cli_json("run-instance", image, "-t", "t1.micro")
    wait_until(lambda: states(follower)[other["id"]][0] == "running", timeout=60,
               message="the follower's own VM did not start")
    assert states(follower)[vm["id"]][0] == "epilog"  # accepted, waiting: not epilog-failure
    leader.start(timeout=120)
    wait_until(lambda: state_of(follower, vm["id"]) == "done", timeout=120,
               message=lambda: state_of(follower, vm["id"]))
