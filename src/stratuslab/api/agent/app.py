"""The agent's API: `POST /agent/v1/call` runs one call of the node's ports (core.nodewire.CALLS,
arguments decoded against the ports' types), `GET /agent/v1/info` describes the node.  Every
request must come from a front end: a client certificate the cloud CA signed with the
front-end role (the TLS layer hands the chain over; `identify` checks it).  Errors are the
cloud's error kinds, carried as {"error": {kind, message, hint}}.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from stratuslab.api.credentials import cert_chain_of
from stratuslab.api.http_status import http_status
from stratuslab.core.enrolment import CertificateAuthorityPort, Role
from stratuslab.core.errors import AuthenticationFailed, CloudError, InvalidInput
from stratuslab.core.node import Node
from stratuslab.core.nodewire import AgentInfo, call_arguments, encode

log = logging.getLogger(__name__)
MAX_BODY = 1 << 20


def _error(exc: CloudError) -> JSONResponse:
    return JSONResponse({"error": {"kind": exc.kind.value, "message": exc.message,
                                   "hint": exc.hint}}, status_code=http_status(exc))


def create_agent_app(node: Node, ca: CertificateAuthorityPort, *, version: str,
                     on_call: Callable[[], None] | None = None) -> FastAPI:
    app = FastAPI(title="stratus-node", docs_url=None, redoc_url=None, openapi_url=None)

    def front_end(request: Request) -> str:
        peer = ca.identify(cert_chain_of(request.scope))
        if peer.role is not Role.FRONT_END:
            raise AuthenticationFailed(f"{peer.name} is not a front end of this cloud",
                                       hint="only stratus-server front ends call an agent")
        return peer.name

    @app.middleware("http")
    async def only_front_ends(request: Request, call_next: Any) -> Any:
        try:
            front_end(request)
            if int(request.headers.get("content-length") or 0) > MAX_BODY:
                raise InvalidInput(f"the request body is larger than {MAX_BODY} bytes")
        except CloudError as exc:
            log.warning("agent refused %s %s: %s", request.method, request.url.path, exc)
            return _error(exc)
        return await call_next(request)

    @app.get("/agent/v1/info")
    def info() -> Any:
        return encode(AgentInfo(node.name, node.hypervisor.name,
                                node.hypervisor.capabilities, version))

    @app.post("/agent/v1/call")
    async def call(request: Request) -> Any:
        body = await request.body()
        if len(body) > MAX_BODY:
            return _error(InvalidInput(f"the request body is larger than {MAX_BODY} bytes"))
        try:
            data = await request.json()
            if not isinstance(data, dict):
                raise InvalidInput("the body must be a JSON object")
            port, method = str(data.get("port")), str(data.get("method"))
            args = call_arguments(port, method, data.get("args"))
            target = node.hypervisor if port == "hypervisor" else node.storage
            answer = await run_in_threadpool(getattr(target, method), **args)
        except CloudError as exc:
            return _error(exc)
        except ValueError:
            return _error(InvalidInput("the body is not JSON"))
        if on_call is not None:
            on_call()
        return {"answer": encode(answer)}

    return app
