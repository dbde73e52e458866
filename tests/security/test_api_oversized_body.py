"""Issue 12 item 8: an oversized request body is refused (413) by the HTTP guard on every API,
before any parsing or authentication, announced or streamed; the marketplace upload keeps its own
explicit limit."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.helpers.cloud import make_settings, seed_data_dir
from tests.helpers.net import free_port
from tests.helpers.servers import Server

from stratuslab.bootstrap import Cloud, build_cloud

LIMIT = 64 * 1024
MARKET_LIMIT = 256 * 1024
XML = {"Content-Type": "text/xml"}


@pytest.fixture
def small_cloud(tmp_path: Path, template_db: Path) -> Iterator[Cloud]:
    seed_data_dir(tmp_path, template_db)
    cloud = build_cloud(make_settings(tmp_path, server={"max_body": LIMIT},
                                      marketplace={"max_body": MARKET_LIMIT},
                                      cdmi={"quota_bytes": MARKET_LIMIT}))
    cloud.identity.ensure_admin("adminpw")
    yield cloud
    cloud.stop()


@pytest.mark.parametrize(("path", "headers"), [
    ("/RPC2", XML),                                   # XML-RPC read the whole body first
    ("/pswd/xmlrpc", XML),                            # classic path: authenticated first
    ("/occi/compute/", {"Content-Type": "text/plain"}),  # OCCI read before authenticating
    ("/api/v1/vms", {"Content-Type": "application/json"}),  # REST had no limit at all
    ("/pdisk/disks", {"Content-Type": "application/x-www-form-urlencoded"}),
])
def test_oversized_body_is_refused_before_authentication_on_every_api(
        small_cloud: Cloud, path: str, headers: dict[str, str]) -> None:
    with TestClient(small_cloud.app) as client:  # no credentials at all: 413 comes first
        resp = client.post(path, content=b"<" * (LIMIT + 1), headers=headers)
    assert resp.status_code == 413, resp.text
    assert f"larger than the limit of 65536 bytes for {path}" in resp.json()["error"]["message"]
    assert "server.max_body" in resp.json()["error"]["hint"]


def test_body_at_the_limit_is_served(small_cloud: Cloud) -> None:
    with TestClient(small_cloud.app) as client:
        resp = client.post("/RPC2", content=b" " * LIMIT, headers=XML)
    assert resp.status_code == 200  # an XML-RPC fault about the document, not a 413


def test_streamed_body_is_counted_without_length(small_cloud: Cloud) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(4):
            yield b"<" * (LIMIT // 2)

    with TestClient(small_cloud.app) as client:
        resp = client.post("/api/v1/vms", content=chunks(),
                           headers={"Content-Type": "application/json"})
    assert resp.status_code == 413 and "larger than the limit" in resp.text


def test_marketplace_upload_has_its_own_explicit_limit(small_cloud: Cloud) -> None:
    with TestClient(small_cloud.app) as client:
        between = client.post("/marketplace/metadata", content=b"<" * (LIMIT * 2),
                              headers={"Content-Type": "application/rdf+xml"})
        beyond = client.post("/marketplace/metadata", content=b"<" * (MARKET_LIMIT + 1),
                             headers={"Content-Type": "application/rdf+xml"})
    assert between.status_code == 400, between.text  # reached the marketplace: not metadata
    assert beyond.status_code == 413 and "marketplace.max_body" in beyond.text


def test_cdmi_object_upload_is_capped_by_the_storage_quota_not_the_api_limit(
        small_cloud: Cloud) -> None:
    admin = small_cloud.identity.check_password("admin", "adminpw")
    objects = small_cloud.features.cdmi.service
    assert objects is not None
    objects.make_container(admin, ["box"], {})
    with TestClient(small_cloud.app) as client:
        stored = client.put("/cdmi/box/big", content=b"x" * (LIMIT * 2), auth=("admin", "adminpw"),
                            headers={"Content-Type": "application/octet-stream"})
        beyond = client.put("/cdmi/box/huge", content=b"x" * (MARKET_LIMIT + LIMIT + 1),
                            auth=("admin", "adminpw"),
                            headers={"Content-Type": "application/octet-stream"})
    assert stored.status_code == 201, stored.text
    assert beyond.status_code == 413 and "cdmi.quota_bytes" in beyond.text


@pytest.mark.e2e
def test_endless_chunked_body_is_cut_off_by_a_real_server(tmp_path: Path) -> None:
    """The server answers 413 once the streamed bytes pass the limit, and stops reading: a
    client that keeps sending gets the answer and a closed connection long before 64 MiB."""
    srv = Server(tmp_path / "data", free_port(), args=["--hypervisor", "simulated"],
                 env={"STRATUSLAB_SERVER_MAX_BODY": str(1024 * 1024)})
    srv.start()
    try:
        sent, answer = 0, b""
        with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as sock:
            sock.sendall(b"POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n" % (64 * 1024) + b"<" * (64 * 1024) + b"\r\n"
            try:
                while sent < 64 * 1024 * 1024 and b"larger than" not in answer:
                    sock.sendall(chunk)
                    sent += 64 * 1024
                    if select.select([sock], [], [], 0)[0]:
                        answer += sock.recv(65536)
            except OSError:  # the server closed the connection after its answer
                pass
            while b"larger than" not in answer:
                part = sock.recv(65536)
                if not part:
                    break
                answer += part
        assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
        assert b"larger than the limit of 1 MiB for /RPC2" in answer
        assert sent < 64 * 1024 * 1024
    finally:
        srv.stop()
        srv.reap()
