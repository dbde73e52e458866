"""The HTTP side of the XML-RPC adapter: a FastAPI router answering POSTs with XML-RPC.

`create_router(backend, version=...)` serves `/RPC2` and the classic StratusLab paths
`/pswd/xmlrpc` and `/cert/xmlrpc`.  Credentials offered over HTTP (Basic, TLS client chain from
the ASGI "tls" extension) take precedence over the XML-RPC session string, as StratusLab's
one-proxy did.  Imports only core, this package, FastAPI and the standard library.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from stratuslab.api.credentials import credentials_from_scope
from stratuslab.api.xmlrpc.backend import XmlRpcBackend
from stratuslab.api.xmlrpc.dispatch import Dispatcher, Method
from stratuslab.api.xmlrpc.methods_admin import METHODS as ADMIN_METHODS
from stratuslab.api.xmlrpc.methods_more import METHODS as MORE_METHODS
from stratuslab.api.xmlrpc.methods_share import METHODS as SHARE_METHODS
from stratuslab.api.xmlrpc.methods_vm import METHODS as VM_METHODS
from stratuslab.api.xmlrpc.methods_vn import METHODS as VN_METHODS
from stratuslab.core.auth import Credentials

PATHS = ("/RPC2", "/pswd/xmlrpc", "/cert/xmlrpc")
DEFAULT_VERSION = "3.2.0"  # the OpenNebula line StratusLab shipped


def all_methods() -> Mapping[str, Method]:
    return {**VM_METHODS, **VN_METHODS, **ADMIN_METHODS, **MORE_METHODS, **SHARE_METHODS}


def request_credentials(request: Request) -> Credentials:
    return credentials_from_scope(request.scope)


def create_router(
    backend: XmlRpcBackend,
    *,
    version: str = DEFAULT_VERSION,
    paths: Sequence[str] | Mapping[str, str] = PATHS,
) -> APIRouter:
    """`paths`: the paths to answer on, all as `version`, or a mapping path -> the OpenNebula
    version that path claims (`profiles.endpoint_versions`)."""
    versions = dict(paths) if isinstance(paths, Mapping) else dict.fromkeys(paths, version)
    methods = all_methods()
    router = APIRouter(tags=["xmlrpc"])
    for path, claimed in versions.items():
        router.add_api_route(
            path,
            _endpoint(Dispatcher(backend, methods, version=claimed)),
            methods=["POST"],
            include_in_schema=False,
        )
    return router


def _endpoint(dispatcher: Dispatcher) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        body = await request.body()  # bounded by the server's HTTP guard (api/guard.py)
        # the backend blocks (database, argon2): keep it off the event loop
        answer = await run_in_threadpool(dispatcher.handle, body, request_credentials(request))
        return Response(answer, media_type="text/xml")

    return endpoint
