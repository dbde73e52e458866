"""Paged listings: `GET /api/v1/jobs` and `/api/v1/vms` answer `items` and a `next` link (null on
the last page), the CLI's client follows the links, and a page never shows another tenant's
objects (an admin sees every job)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stratuslab.bootstrap import Cloud
from stratuslab.cli.client import Api
from stratuslab.cli.config import ClientConfig
from stratuslab.core.entities import Principal

ADMIN = ("admin", "adminpw")
BOB = ("bob", "bob-pw-123")


@pytest.fixture
def client(cloud: Cloud, admin: Principal, tmp_path: Path) -> TestClient:
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 4096)
    image = cloud.images.register(admin, "base", str(disk), public=True)
    cloud.identity.create_user(admin, *BOB)
    http = TestClient(cloud.app)
    for who, count in ((ADMIN, 5), (BOB, 2)):
        made = http.post("/api/v1/vms", json={"image": image.id, "type": "t1.micro",
                                              "count": count}, auth=who)
        assert made.status_code == 202, made.text
    return http


def _api(http: TestClient, who: tuple[str, str]) -> Api:
    """The CLI's client, talking to the app in this process."""
    api = Api(ClientConfig({"endpoint": "http://testserver", "username": who[0],
                            "password": who[1]}))
    http.auth = who
    api.http = http
    return api


def test_jobs_come_in_pages_with_a_next_link_until_the_last(client: TestClient) -> None:
    first = client.get("/api/v1/jobs", params={"limit": 3}, auth=ADMIN).json()
    assert [j["id"] for j in first["items"]] == [7, 6, 5]  # newest first
    assert first["next"] == "/api/v1/jobs?limit=3&marker=5"
    second = client.get(first["next"], auth=ADMIN).json()
    assert [j["id"] for j in second["items"]] == [4, 3, 2] and second["next"]
    last = client.get(second["next"], auth=ADMIN).json()
    assert [j["id"] for j in last["items"]] == [1] and last["next"] is None


def test_cli_client_follows_every_page(client: TestClient) -> None:
    api = _api(client, ADMIN)
    assert [j["id"] for j in api.items("/api/v1/jobs", {"limit": 2})] == [7, 6, 5, 4, 3, 2, 1]
    assert len(api.items("/api/v1/jobs", {"limit": 2}, most=3)) == 3
    vms = api.items("/api/v1/vms", {"limit": 2})
    assert sorted(vm["id"] for vm in vms) == [1, 2, 3, 4, 5, 6, 7]


def test_vm_pages_keep_the_filters_in_their_next_link(client: TestClient) -> None:
    page = client.get("/api/v1/vms", params={"limit": 2, "state": "pending"}, auth=ADMIN).json()
    assert page["next"] == "/api/v1/vms?state=pending&include_done=false&offset=2&limit=2"
    assert client.get("/api/v1/vms", params={"limit": 7}, auth=ADMIN).json()["next"] is None


def test_pages_of_another_tenant_hold_only_their_jobs(client: TestClient) -> None:
    mine = _api(client, BOB).items("/api/v1/jobs", {"limit": 1})
    assert len(mine) == 2 and {j["owner"] for j in mine} == {"bob"}
    # a marker taken from someone else's listing reveals nothing either
    below = client.get("/api/v1/jobs", params={"marker": 5, "limit": 10}, auth=BOB).json()
    assert below["items"] == [] and below["next"] is None


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 1001}, {"marker": 0},
                                   {"marker": "x"}, {"limit": "9" * 40}])
def test_crafted_page_parameters_are_refused(client: TestClient, query: dict[str, object]) -> None:
    answer = client.get("/api/v1/jobs", params=query, auth=ADMIN)
    assert answer.status_code == 400 and answer.json()["error"]["kind"] == "invalid", answer.text
