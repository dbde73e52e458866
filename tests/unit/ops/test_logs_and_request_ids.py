"""One request id follows an operation: the API answers it in X-Request-ID, the job it queued
records it, the runner logs the job's steps under it, and driver commands log under it too;
logs are text or JSON lines, to a rotated file when asked."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stratuslab.bootstrap import Cloud
from stratuslab.core.context import bound_request_id, current_request_id
from stratuslab.drivers import _process
from stratuslab.ops.logs import RequestIdFilter, configure_logging, make_handler
from stratuslab.settings import ServerSettings


def _image(cloud: Cloud, tmp_path: Path) -> int:
    f = tmp_path / "disk.raw"
    f.write_bytes(b"\0" * 4096)
    admin = cloud.identity.check_password("admin", "adminpw")
    img = cloud.images.register(admin, "base", str(f))
    assert img.id is not None
    return img.id


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(RequestIdFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def collected() -> Collect:
    handler = Collect()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old)


def test_request_id_goes_from_the_api_into_the_job_and_its_log_lines(
        cloud: Cloud, tmp_path: Path, collected: Collect) -> None:
    image = _image(cloud, tmp_path)
    client = TestClient(cloud.app)  # no lifespan: the test runs the job itself
    res = client.post("/api/v1/vms", json={"image": image, "type": "t1.micro"},
                      auth=("admin", "adminpw"), headers={"X-Request-ID": "op-42.a"})
    assert res.status_code == 202, res.text
    assert res.headers["x-request-id"] == "op-42.a"
    job_id = res.json()["jobs"][0]["id"]
    with cloud.uow() as uow:
        job = uow.jobs.get(job_id)
    assert job is not None and job.request_id == "op-42.a"
    while cloud.runner.run_once():
        pass
    assert current_request_id() is None  # unbound again after the job
    mine = [r.getMessage() for r in collected.records if r.request_id == "op-42.a"]
    assert any(m.startswith("POST /api/v1/vms -> 202") for m in mine)
    assert any(f"job {job_id} (deploy) started" in m for m in mine), mine
    assert any(f"job {job_id} (deploy) done" in m for m in mine), mine


def test_hostile_request_ids_are_replaced_and_every_answer_has_one(cloud: Cloud) -> None:
    client = TestClient(cloud.app)
    for given in ("a b", "x" * 65, "id\r\nSet-Cookie: a=b", "é"):
        res = client.get("/api/v1/openapi.json", headers={"X-Request-ID": given.encode("utf-8")})
        got = res.headers["x-request-id"]
        assert got != given and got.startswith("req-") and len(got) == 20
    assert client.get("/nothing-here").headers["x-request-id"].startswith("req-")


def test_driver_commands_log_under_the_bound_request_id(collected: Collect) -> None:
    with bound_request_id("op-7"):
        _process.run(["true"], timeout=30)
    lines = [(r.request_id, r.getMessage()) for r in collected.records
             if r.name == "stratuslab.drivers.process"]
    assert ("op-7", "run true") in lines and ("op-7", "true exited 0") in lines


def test_json_lines_carry_time_level_logger_message_and_request_id(tmp_path: Path) -> None:
    path = tmp_path / "log" / "server.log"
    handler = make_handler(ServerSettings(log_format="json", log_file=str(path)))
    logger = logging.getLogger("stratuslab.test.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with bound_request_id("op-9"):
            logger.warning("disk %s is full", "vda")
    finally:
        logger.removeHandler(handler)
        handler.close()
    entry = json.loads(path.read_text().splitlines()[-1])
    assert entry["message"] == "disk vda is full" and entry["request_id"] == "op-9"
    assert (entry["level"], entry["logger"]) == ("warning", "stratuslab.test.json")
    assert entry["time"].endswith("+00:00")


def test_log_file_is_rotated_at_the_configured_size(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    handler = make_handler(ServerSettings(log_file=str(path), log_max_bytes=2000, log_backups=2))
    logger = logging.getLogger("stratuslab.test.rotate")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for n in range(200):
            logger.warning("line %d %s", n, "x" * 40)
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["server.log", "server.log.1",
                                                          "server.log.2"]
    assert all(p.stat().st_size <= 2000 for p in tmp_path.iterdir())
    assert "line 199" in path.read_text()


def test_unwritable_log_file_is_refused_with_the_setting_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(Exception, match="setting server.log_file: cannot write"):
        configure_logging(ServerSettings(log_file=str(blocker / "sub" / "server.log")))
