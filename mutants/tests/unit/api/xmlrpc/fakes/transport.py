"""An xmlrpc.client transport that posts through a Starlette TestClient (stdlib clients and
pyone's ServerProxy both use it)."""

from __future__ import annotations

import xmlrpc.client
from typing import Any

from fastapi.testclient import TestClient


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
