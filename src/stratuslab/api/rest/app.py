"""REST application factory, authentication dependency and shared context."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from stratuslab.api.rest import errors
from stratuslab.core.auth import Credentials
from stratuslab.core.entities import Principal
from stratuslab.core.errors import AuthenticationFailed


@dataclass
class RestContext:
    """What the REST adapter needs; bootstrap builds it."""

    compute: Any
    images: Any
    identity: Any
    authenticate: Callable[[Credentials], Principal]
    instance_types: Any
    quarantine: Any = None
    extras: dict[str, Any] = field(default_factory=dict)
    version: str = "0"


def credentials_from(request: Request) -> Credentials:
    source = request.client.host if request.client else "unknown"
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    chain = tuple(request.scope.get("extensions", {}).get("tls", {}).get("client_cert_chain", ()))
    if scheme.lower() == "basic" and value:
        try:
            user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationFailed("the Authorization header is not valid HTTP Basic") from None
        return Credentials(source, username=user, password=password, cert_chain=chain)
    if scheme.lower() == "bearer" and value:
        return Credentials(source, token=value.strip(), cert_chain=chain)
    return Credentials(source, cert_chain=chain)


def create_app(ctx: RestContext) -> FastAPI:
    from stratuslab.api.rest import routes_admin, routes_quarantine, routes_vms

    app = FastAPI(
        title="StratusLab", version=ctx.version,
        openapi_url="/api/v1/openapi.json", docs_url="/api/v1/docs", redoc_url=None,
    )
    app.state.ctx = ctx
    errors.install(app)
    app.include_router(routes_vms.router, prefix="/api/v1")
    app.include_router(routes_admin.router, prefix="/api/v1")
    app.include_router(routes_quarantine.router, prefix="/api/v1")
    return app


def get_ctx(request: Request) -> RestContext:
    ctx: RestContext = request.app.state.ctx
    return ctx


def current_principal(request: Request) -> Principal:
    ctx = get_ctx(request)
    return ctx.authenticate(credentials_from(request))


Ctx = Annotated[RestContext, Depends(get_ctx)]
Caller = Annotated[Principal, Depends(current_principal)]
