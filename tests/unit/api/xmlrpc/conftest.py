"""The FakeBackend (fakes/: in-memory ports that record what they receive) and clients over
FastAPI's TestClient: stdlib xmlrpc.client and pyone, both through a TestClient transport."""

from __future__ import annotations

import xmlrpc.client
from pathlib import Path
from typing import Any

import pyone
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.unit.api.xmlrpc.fakes import ClientTransport, FakeBackend

from stratuslab.api.xmlrpc import create_router, endpoint_versions
from stratuslab.bootstrap import Cloud
from stratuslab.core.entities import Principal


@pytest.fixture
def image(cloud: Cloud, admin: Principal, tmp_path: Path) -> int:
    """A public image of the simulated cloud (tests over the real services)."""
    disk = tmp_path / "base.img"
    disk.write_bytes(b"\0" * 4096)
    image_id = cloud.images.register(admin, "base", str(disk), public=True).id
    assert image_id is not None
    return image_id


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def client(backend: FakeBackend) -> TestClient:
    app = FastAPI()
    app.include_router(create_router(backend, paths=endpoint_versions("3.2.0")))
    return TestClient(app)


@pytest.fixture
def rpc(client: TestClient) -> xmlrpc.client.ServerProxy:
    transport = ClientTransport(client)
    return xmlrpc.client.ServerProxy("http://testserver/RPC2", transport=transport)


@pytest.fixture
def one(client: TestClient) -> Any:
    # pyone is a 7.x client: it talks to the endpoint that claims the 7.4 line
    server = pyone.OneServer("http://testserver/one/7.4/RPC2", session="oneadmin:secret")
    server._ServerProxy__transport = ClientTransport(client)  # pyone's requests transport
    return server
