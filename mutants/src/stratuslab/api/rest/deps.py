"""What REST handlers depend on: the context bootstrap builds, the caller, typed providers.

Routes import from here (never from app.py, which imports the routes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from stratuslab.api.credentials import credentials_from_scope
from stratuslab.core.auth import Credentials
from stratuslab.core.entities import Principal


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
    return credentials_from_scope(request.scope)


def get_ctx(request: Request) -> RestContext:
    ctx: RestContext = request.app.state.ctx
    return ctx


def current_principal(request: Request) -> Principal:
    ctx = get_ctx(request)
    return ctx.authenticate(credentials_from(request))


Ctx = Annotated[RestContext, Depends(get_ctx)]
Caller = Annotated[Principal, Depends(current_principal)]
