"""The XML-RPC router on a real HTTP server on loopback (uvicorn in a thread), driven by pyone
with its own requests transport and by the stdlib client the way the 2014 StratusLab client
connects (user:password in the URL of /pswd/xmlrpc)."""

from __future__ import annotations

import socket
import threading
import time
import xmlrpc.client
from collections.abc import Iterator
from typing import Any

import pyone
import pytest
import uvicorn
from fastapi import FastAPI

from stratuslab.api.xmlrpc import create_router


@pytest.fixture
def served(backend: Any) -> Iterator[str]:
    app = FastAPI()
    app.include_router(create_router(backend, version="7.0.0"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_pyone_over_real_http(served: str, backend: Any) -> None:
    one = pyone.OneServer(f"http://{served}/RPC2", session="oneadmin:secret")
    assert one.system.version() == "7.0.0"
    vm_id = one.vm.allocate('NAME="wire"\nDISK=[IMAGE_ID="3"]')
    backend.boot(vm_id)
    assert one.vm.info(vm_id).TEMPLATE["NIC"]["IP"] == "10.1.0.7"
    with pytest.raises(pyone.OneAuthenticationException):
        pyone.OneServer(f"http://{served}/RPC2", session="oneadmin:nope").vm.info(vm_id)


def test_classic_client_url_credentials_on_pswd_path(served: str, backend: Any) -> None:
    proxy = xmlrpc.client.ServerProxy(f"http://alice:s3cr:t@{served}/pswd/xmlrpc")
    ok, xml, _ = proxy.one.vmpool.info("alice:s3cr:t", -3, -1, -1, -1)
    assert ok and xml == "<VM_POOL/>"
    credentials = backend.calls[0][1]
    assert (credentials.username, credentials.password, credentials.source) == (
        "alice",
        "s3cr:t",
        "127.0.0.1",
    )
