"""The FakeBackend (fakes/: in-memory ports that record what they receive) and clients over
FastAPI's TestClient: stdlib xmlrpc.client and pyone, both through a TestClient transport."""

from __future__ import annotations

import xmlrpc.client
from typing import Any

import pyone
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.unit.api.xmlrpc.fakes import FakeBackend

from stratuslab.api.xmlrpc import create_router, endpoint_versions


class ClientTransport(xmlrpc.client.Transport):
    """xmlrpc.client transport that posts through a Starlette TestClient."""

    def __init__(self, client: TestClient, headers: dict[str, str] | None = None):
        super().__init__(use_builtin_types=True)
        self.client = client
        self.headers = headers or {}
        self.last_status = 0

    def request(self, host: Any, handler: Any, request_body: Any, verbose: bool = False) -> Any:
        response = self.client.post(
            handler, content=request_body, headers={"Content-Type": "text/xml", **self.headers}
        )
        self.last_status = response.status_code
        assert response.status_code == 200, response.text
        params, _ = xmlrpc.client.loads(response.content, use_builtin_types=True)
        return params


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
