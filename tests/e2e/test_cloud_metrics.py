"""The cloud-load page (any user) and the Prometheus metrics (administrators) of a real server,
parsed with the Prometheus text parser."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.helpers.servers import Server, free_port
from tests.helpers.waits import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("metrics")
    srv = Server(base / "data", free_port(), args=["--hypervisor", "simulated"])
    srv.start()
    srv.cli("user", "create", "alice", "--password", "alicepw")
    disk = base / "disk.raw"
    disk.write_bytes(os.urandom(65536))
    image = srv.cli("image", "register", "base", str(disk), "--public").stdout.strip()
    srv.cli("run-instance", image, "-n", "2", "-t", "t1.micro", user="alice", password="alicepw")
    yield srv
    srv.stop()
    srv.reap()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def test_cloud_load_shows_capacity_allocation_and_states_to_any_user(server: Server) -> None:
    load = server.cli_json("cloud-load", user="alice", password="alicepw")
    [host] = load
    assert host["name"] == "localhost" and host["state"] == "on"
    assert host["cpus"] == os.cpu_count() and host["memory_mib"] > 0
    assert host["vms"] == 2 and host["allocated_vcpu"] == 2
    text = server.cli("cloud-load", user="alice", password="alicepw").stdout
    assert "running 2" in text


def test_metrics_parse_and_count_what_the_cloud_holds(server: Server) -> None:
    with httpx.Client(base_url=server.endpoint, timeout=30) as c:
        c.get("/api/v1/vms", auth=("alice", "alicepw"))
        answer = c.get("/metrics", auth=("admin", "adminpw"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    got = samples(answer.text)
    assert got[("stratuslab_vms", (("state", "running"),))] == 2
    assert got[("stratuslab_host_up", (("host", "localhost"),))] == 1
    assert got[("stratuslab_host_allocated_vcpus", (("host", "localhost"),))] == 2
    assert got[("stratuslab_users", ())] == 2
    deploys = [v for (name, labels), v in got.items()
               if name == "stratuslab_jobs" and ("kind", "deploy") in labels]
    assert sum(deploys) >= 1
    count = [v for (name, labels), v in got.items()
             if name == "stratuslab_http_request_duration_seconds_count"
             and ("route", "/api/v1/vms") in labels and ("status", "200") in labels]
    assert count and count[0] >= 1  # latency by route template, never by raw path


def test_metrics_are_refused_to_users_and_anonymous_callers(server: Server) -> None:
    with httpx.Client(base_url=server.endpoint, timeout=30) as c:
        user = c.get("/metrics", auth=("alice", "alicepw"))
        anon = c.get("/metrics")
    assert user.status_code == 403 and "administrators" in user.text
    assert anon.status_code == 401 and "stratuslab_vms" not in anon.text


def test_raw_paths_never_become_metric_labels(server: Server) -> None:
    with httpx.Client(base_url=server.endpoint, timeout=30) as c:
        for n in range(5):
            c.get(f"/no/such/path/{n}", auth=("alice", "alicepw"))
        text = wait_until(lambda: c.get("/metrics", auth=("admin", "adminpw")).text,
                          timeout=10, message="no metrics")
    assert "/no/such/path" not in text
    assert 'route="unmatched"' in text
