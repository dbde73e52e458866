"""Issue 12 item 23: every response of a real server carries exactly one `Server` header (the
ASGI server's and ours used to both be sent), on every API and on the guard's own refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.helpers.net import free_port
from tests.helpers.servers import Server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base: Path = tmp_path_factory.mktemp("server-header")
    server = Server(base / "data", free_port(), args=["--hypervisor", "simulated"])
    server.start()
    yield server
    server.stop()
    server.reap()


@pytest.mark.parametrize(("method", "path", "headers", "body"), [
    ("GET", "/api/v1/openapi.json", {}, b""),
    ("GET", "/api/v1/vms", {}, b""),                             # 401 from REST
    ("GET", "/occi/-/", {"Accept": "text/plain"}, b""),           # OCCI sets its own
    ("POST", "/RPC2", {"Content-Type": "text/xml"}, b"<methodCall/>"),
    ("GET", "/marketplace/", {}, b""),
    ("GET", "/pswd/api/v1/vms", {}, b""),                         # classic endpoint's 401
    ("POST", "/RPC2", {"Content-Type": "text/plain"}, b"x"),      # the guard's own refusal
    ("GET", "/no/such/path", {}, b""),
])
def test_every_response_has_exactly_one_server_header(
        srv: Server, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
    resp = httpx.request(method, srv.endpoint + path, headers=headers, content=body or None)
    values = resp.headers.get_list("server")
    assert len(values) == 1, f"{method} {path} -> {resp.status_code}: Server {values}"
    assert values[0].startswith("StratusLab"), values


def test_occi_keeps_its_protocol_server_header(srv: Server) -> None:
    resp = httpx.get(srv.endpoint + "/occi/-/", headers={"Accept": "text/plain"})
    assert resp.headers.get_list("server") == ["StratusLab OCCI/1.2"]
