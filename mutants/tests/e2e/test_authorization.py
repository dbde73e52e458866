"""The authorization matrix, through a real server: user A cannot list, read, change or delete
user B's objects through any API; admins see everything.

Each row is one kind of object B owns, made through the REST API, with the requests A tries.
A row whose routes this server does not offer fails.  The in-process matrix over every route
is tests/security/test_access_matrix.py."""

from __future__ import annotations

import os
import xmlrpc.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from tests.helpers.net import http_directory
from tests.helpers.servers import Server, free_port

pytestmark = pytest.mark.e2e

A, B = ("usera", "Usera-pw1"), ("userb", "Userb-pw1")
ADMIN = ("admin", "adminpw")


@dataclass
class Row:
    name: str
    route: str  # present in the server's OpenAPI when the row applies
    create: Callable[[Server, Any], Any]  # (server, image id) -> object id, made as B
    listing: str
    probes: list[tuple[str, str, dict[str, Any] | None, int]] = field(default_factory=list)

    def ids_in(self, body: Any) -> list[Any]:
        items = body["items"] if isinstance(body, dict) and "items" in body else body
        return [item.get("id", item.get("uuid", item.get("name"))) for item in items]


def _post(srv: Server, path: str, body: dict[str, Any], auth: tuple[str, str] = B) -> Any:
    answer = httpx.post(srv.endpoint + path, json=body, auth=auth, timeout=30)
    assert answer.status_code < 300, answer.text
    return answer.json()


def _vm(srv: Server, image: Any) -> Any:
    return _post(srv, "/api/v1/vms", {"image": image["private"], "hold": True})["vms"][0]["id"]


def _job(srv: Server, image: Any) -> Any:
    return _post(srv, "/api/v1/vms", {"image": image["private"], "hold": True})["jobs"][0]["id"]


def _reservation(srv: Server, image: Any) -> Any:
    _post(srv, "/api/v1/networks", {"name": "matrix", "subnet": "10.99.0.0/24"}, ADMIN)
    return _post(srv, "/api/v1/reservations", {"network": "matrix"})["id"]


def _secgroup(srv: Server, image: Any) -> Any:
    return _post(srv, "/api/v1/secgroups", {"name": "b-only"})["name"]


def _volume(srv: Server, image: Any) -> Any:
    return _post(srv, "/api/v1/volumes", {"size": 1, "tag": "b-data"})["id"]


ROWS = [
    Row("vm", "/api/v1/vms", _vm, "/api/v1/vms", [
        ("GET", "/api/v1/vms/{id}", None, 404),
        ("GET", "/api/v1/vms/{id}/events", None, 404),
        ("GET", "/api/v1/vms/{id}/console", None, 404),
        ("POST", "/api/v1/vms/{id}/actions/release", None, 404),
        ("POST", "/api/v1/vms/{id}/actions/suspend", None, 404),
        ("DELETE", "/api/v1/vms/{id}", None, 404),
        ("GET", "/occi/compute/{id}", None, 404),
        ("DELETE", "/occi/compute/{id}", None, 404),
    ]),
    Row("job", "/api/v1/jobs", _job, "/api/v1/jobs", [
        ("GET", "/api/v1/jobs/{id}", None, 404),
    ]),
    Row("private image", "/api/v1/images", lambda srv, image: image["private"], "/api/v1/images", [
        ("GET", "/api/v1/images/{id}", None, 404),
        ("DELETE", "/api/v1/images/{id}", None, 404),
        ("POST", "/api/v1/vms", {"image": "{id}"}, 404),
    ]),
    Row("volume", "/api/v1/volumes", _volume, "/api/v1/volumes", [
        ("GET", "/api/v1/volumes/{id}", None, 404),
        ("PATCH", "/api/v1/volumes/{id}", {"tag": "mine"}, 404),
        ("POST", "/api/v1/volumes/{id}/attach", {"vm": 1}, 404),
        ("DELETE", "/api/v1/volumes/{id}", None, 404),
        ("GET", "/pdisk/disks/{id}", None, 404),
        ("DELETE", "/pswd/pdisk/disks/{id}", None, 404),
    ]),
    Row("reservation", "/api/v1/reservations", _reservation, "/api/v1/reservations", [
        ("DELETE", "/api/v1/reservations/{id}", None, 404),
    ]),
    Row("security group", "/api/v1/secgroups", _secgroup, "/api/v1/secgroups", [
        ("GET", "/api/v1/secgroups/{id}", None, 404),
        ("DELETE", "/api/v1/secgroups/{id}", None, 404),
    ]),
]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("authz") / "data", free_port(),
                    args=["--hypervisor", "simulated"])
    server.start()
    try:
        for name, password in (A, B):
            server.cli("user", "create", name, "--password", password)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def image(srv: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """B's images, imported from an HTTP server on loopback (users may not import server files)."""
    d = tmp_path_factory.mktemp("img")
    (d / "disk.raw").write_bytes(os.urandom(65536))
    with http_directory(d) as base:
        url = f"{base}/disk.raw"
        made = {}
        for kind, public in (("private", False), ("public", True)):
            made[kind] = srv.cli("image", "register", f"b-{kind}", url,
                                 *(["--public"] if public else []),
                                 user=B[0], password=B[1]).stdout.strip()
        yield {k: int(v) for k, v in made.items()}



@pytest.fixture(scope="module")
def routes(srv: Server) -> set[str]:
    return set(httpx.get(srv.endpoint + "/api/v1/openapi.json").json()["paths"])


_made: dict[str, Any] = {}


def owned_by_b(row: Row, srv: Server, image: dict[str, int], routes: set[str]) -> Any:
    if row.route not in routes:
        pytest.fail(f"this server has no {row.route} routes: remove the row or restore the routes")
    if row.name not in _made:
        _made[row.name] = row.create(srv, image)
    return _made[row.name]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_a_does_not_list_b_objects_and_admin_does(row: Row, srv: Server, image: dict[str, int],
                                                  routes: set[str]) -> None:
    ident = owned_by_b(row, srv, image, routes)
    mine = httpx.get(srv.endpoint + row.listing, auth=B).json()
    assert ident in row.ids_in(mine)
    theirs = httpx.get(srv.endpoint + row.listing, auth=A)
    assert theirs.status_code == 200 and ident not in row.ids_in(theirs.json())
    if row.name != "security group":  # admin listing of everyone's groups is not required
        assert ident in row.ids_in(httpx.get(srv.endpoint + row.listing, auth=ADMIN).json())


PROBES = [(row, probe) for row in ROWS for probe in row.probes]


@pytest.mark.parametrize("row,probe", PROBES,
                         ids=[f"{r.name}:{p[0]} {p[1]}" for r, p in PROBES])
def test_a_cannot_read_change_or_delete_b_objects(row: Row, probe: tuple[Any, ...], srv: Server,
                                                  image: dict[str, int],
                                                  routes: set[str]) -> None:
    ident = owned_by_b(row, srv, image, routes)
    method, path, body, status = probe
    if body is not None:
        body = {k: (int(ident) if v == "{id}" else v) for k, v in body.items()}
    answer = httpx.request(method, srv.endpoint + path.format(id=ident), json=body, auth=A)
    assert answer.status_code == status, answer.text
    # and the object is still there for its owner
    if row.name in ("vm", "private image", "volume"):
        assert ident in row.ids_in(httpx.get(srv.endpoint + row.listing, auth=B).json())


def test_public_image_is_usable_by_others_but_only_its_owner_deletes_it(
        srv: Server, image: dict[str, int]) -> None:
    url = f"{srv.endpoint}/api/v1/images/{image['public']}"
    assert httpx.get(url, auth=A).status_code == 200
    assert httpx.delete(url, auth=A).status_code == 403
    assert httpx.get(url, auth=B).status_code == 200


def test_admin_reads_and_changes_any_vm(srv: Server, image: dict[str, int],
                                        routes: set[str]) -> None:
    vm = owned_by_b(ROWS[0], srv, image, routes)
    assert httpx.get(f"{srv.endpoint}/api/v1/vms/{vm}", auth=ADMIN).json()["owner"] == "userb"


def test_xmlrpc_applies_the_same_policy(srv: Server, image: dict[str, int],
                                        routes: set[str]) -> None:
    vm = owned_by_b(ROWS[0], srv, image, routes)
    probe = httpx.post(srv.endpoint + "/RPC2", content=b"<methodCall/>")
    assert probe.status_code not in (404, 405), "this server has no XML-RPC adapter"
    rpc = xmlrpc.client.ServerProxy(srv.endpoint + "/RPC2")
    session_a, session_b = ":".join(A), ":".join(B)
    answer = rpc.one.vm.info(session_a, vm)
    assert answer[0] is False
    assert rpc.one.vm.info(session_b, vm)[0] is True
    assert rpc.one.vm.action(session_a, "suspend", vm)[0] is False
    pool = rpc.one.vmpool.info(session_a, -2, -1, -1, -1)
    assert pool[0] is True and f"<ID>{vm}</ID>" not in pool[1]


def test_xmlrpc_hides_b_private_image_and_refuses_to_delete_it(srv: Server,
                                                               image: dict[str, int]) -> None:
    probe = httpx.post(srv.endpoint + "/RPC2", content=b"<methodCall/>")
    assert probe.status_code not in (404, 405), "this server has no XML-RPC adapter"
    rpc = xmlrpc.client.ServerProxy(srv.endpoint + "/RPC2")
    session_a = ":".join(A)
    assert rpc.one.image.info(session_a, image["private"])[0] is False
    assert rpc.one.image.delete(session_a, image["private"])[0] is False
    assert rpc.one.image.delete(session_a, image["public"])[0] is False
    pool = rpc.one.imagepool.info(session_a, -2, -1, -1)
    assert pool[0] is True and f"<ID>{image['private']}</ID>" not in pool[1]
    assert rpc.one.image.info(":".join(B), image["private"])[0] is True
