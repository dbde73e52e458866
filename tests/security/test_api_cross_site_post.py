"""Issue 12 item 16: a page of another site cannot make a browser post to the API with the
user's cookie/Basic credentials.  Simple (CORS-safelisted) content types are refused on XML-RPC
and REST routes; Origin / Sec-Fetch-Site from another site is refused everywhere; the real
clients (xmlrpc.client and pyone send text/xml, the CLI JSON or nothing) keep working."""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.helpers.cloud import make_settings, seed_data_dir

from stratuslab.bootstrap import Cloud, build_cloud

CALL = xmlrpc.client.dumps(("admin:adminpw", -2, -1, -1), "one.vmpool.info").encode()
AUTH = ("admin", "adminpw")


@pytest.fixture
def client(tmp_path: Path, template_db: Path) -> Iterator[TestClient]:
    seed_data_dir(tmp_path, template_db)
    cloud: Cloud = build_cloud(make_settings(
        tmp_path, server={"trusted_origins": ["https://portal.example.org"]}))
    cloud.identity.ensure_admin("adminpw")
    with TestClient(cloud.app) as test_client:
        yield test_client
    cloud.stop()


@pytest.mark.parametrize("media", ["text/plain", "text/plain;charset=UTF-8",
                                   "application/x-www-form-urlencoded", "multipart/form-data"])
@pytest.mark.parametrize("path", ["/RPC2", "/xmlrpc", "/pswd/xmlrpc"])
def test_xmlrpc_refuses_simple_content_type_post(client: TestClient, path: str,
                                                 media: str) -> None:
    resp = client.post(path, content=CALL, headers={"Content-Type": media}, auth=AUTH)
    assert resp.status_code == 415, resp.text
    error = resp.json()["error"]
    assert "any web page could send it" in error["message"] and "text/xml" in error["hint"]


def test_rest_action_route_refuses_simple_content_type_post(client: TestClient) -> None:
    resp = client.post("/api/v1/vms/1/actions/stop", content=b"x", auth=AUTH,
                       headers={"Content-Type": "text/plain"})
    assert resp.status_code == 415


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example", "Content-Type": "text/xml"},
    {"Origin": "null", "Content-Type": "text/xml"},
    {"Sec-Fetch-Site": "cross-site", "Content-Type": "text/xml"},
    {"Sec-Fetch-Site": "same-site", "Origin": "https://sub.testserver", "Content-Type": "text/xml"},
])
def test_cross_site_browser_post_is_refused(client: TestClient, headers: dict[str, str]) -> None:
    for path in ("/RPC2", "/occi/compute/", "/api/v1/vms", "/pdisk/disks", "/register"):
        resp = client.post(path, content=CALL, headers=headers, auth=AUTH)
        assert resp.status_code == 403, f"{path}: {resp.text}"
        assert "another site" in resp.json()["error"]["message"]
        assert "server.trusted_origins" in resp.json()["error"]["hint"]


def test_cross_site_delete_is_refused(client: TestClient) -> None:
    resp = client.delete("/api/v1/vms/1", headers={"Origin": "https://evil.example"}, auth=AUTH)
    assert resp.status_code == 403


def test_genuine_clients_and_same_origin_pages_pass(client: TestClient) -> None:
    for headers in ({"Content-Type": "text/xml"},  # xmlrpc.client, pyone, StratusLab's client
                    {"Content-Type": "text/xml", "Origin": "http://testserver",
                     "Sec-Fetch-Site": "same-origin"},
                    {"Content-Type": "text/xml", "Origin": "https://portal.example.org",
                     "Sec-Fetch-Site": "cross-site"},  # trusted by the administrator
                    {"Content-Type": "text/plain", "X-Requested-With": "XMLHttpRequest"}):
        resp = client.post("/RPC2", content=CALL, headers=headers)
        assert resp.status_code == 200, (headers, resp.text)
        assert b"VM_POOL" in resp.content
    # REST action without a body (the CLI): not a browser's cross-site request
    assert client.post("/api/v1/vms/999/actions/stop", auth=AUTH).status_code == 404
    # OCCI's text/plain rendering and pdisk's form encoding stay accepted from programs
    occi = client.get("/occi/-/", headers={"Accept": "text/plain"}, auth=AUTH)
    assert occi.status_code == 200
    form = client.post("/pdisk/disks", content=b"size=1&tag=t", auth=AUTH,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code != 415
