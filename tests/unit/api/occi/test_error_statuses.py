"""REST and OCCI answer every CloudError kind with the same HTTP status (api/http_status.py), and
XML-RPC with the one OpenNebula code of that kind (api/xmlrpc/codes.py), each through its real
error path; a request the cloud does not implement is a CloudError of kind "unsupported" (501)."""

from __future__ import annotations

import xmlrpc.client
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.unit.api.xmlrpc.fakes import FakeBackend

from stratuslab.api.http_status import STATUS
from stratuslab.api.rest import errors
from stratuslab.api.xmlrpc import create_router, endpoint_versions
from stratuslab.api.xmlrpc.codes import ERROR_CODES
from stratuslab.core.errors import CloudError, ErrorKind, Unsupported


def error_of(kind: ErrorKind) -> CloudError:
    return type(f"Test{kind.name.title()}", (CloudError,), {"kind": kind})(f"a {kind} failure")


def rest_status(exc: Exception) -> int:
    app = FastAPI()
    errors.install(app)

    @app.get("/boom")
    def boom() -> None:
        raise exc

    return TestClient(app, raise_server_exceptions=False).get("/boom").status_code


def occi_status(occi: TestClient, backend: Any, exc: Exception) -> int:
    def fail(*_args: Any, **_kwargs: Any) -> None:
        raise exc

    backend.compute_list = fail
    return occi.get("/occi/compute/", headers={"Accept": "text/plain"}).status_code


def xmlrpc_code(exc: Exception) -> int:
    def fail(*_args: Any, **_kwargs: Any) -> None:
        raise exc

    backend = FakeBackend()
    backend.system.host_list = fail  # type: ignore[method-assign]
    app = FastAPI()
    app.include_router(create_router(backend, paths=endpoint_versions("3.2.0")))
    body = xmlrpc.client.dumps(("oneadmin:secret",), "one.hostpool.info")
    answer = TestClient(app).post("/RPC2", content=body, headers={"Content-Type": "text/xml"})
    [(ok, _message, code)] = xmlrpc.client.loads(answer.content)[0]
    assert ok is False
    return int(code)


def test_every_error_kind_has_a_status() -> None:
    assert set(STATUS) == set(ErrorKind)


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_rest_occi_and_xmlrpc_answer_each_kind_from_their_one_table(
    kind: ErrorKind, occi: TestClient, occi_backend: Any
) -> None:
    exc = error_of(kind)
    assert rest_status(exc) == occi_status(occi, occi_backend, exc) == STATUS[kind]
    assert xmlrpc_code(exc) == ERROR_CODES[kind]


def test_a_driver_failure_is_a_bad_gateway_in_both() -> None:
    assert STATUS[ErrorKind.DRIVER] == 502


def test_unsupported_names_the_feature_and_is_501(occi: TestClient, occi_backend: Any) -> None:
    exc = Unsupported("resizing storage")
    assert exc.message == "resizing storage is not supported by this cloud yet"
    assert rest_status(exc) == occi_status(occi, occi_backend, exc) == 501


def test_a_bare_not_implemented_error_from_a_backend_is_unsupported_too(
    occi: TestClient, occi_backend: Any
) -> None:
    assert occi_status(occi, occi_backend, NotImplementedError("listing")) == 501
