"""What REST handlers depend on: the context bootstrap builds, the caller, typed providers.

Routes import from here (never from app.py, which imports the routes).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

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


def get_ctx(request: Request) -> RestContext:
    ctx: RestContext = request.app.state.ctx
    return ctx


def current_principal(request: Request) -> Principal:
    ctx = get_ctx(request)
    return ctx.authenticate(credentials_from(request))


Ctx = Annotated[RestContext, Depends(get_ctx)]
Caller = Annotated[Principal, Depends(current_principal)]
