"""What REST handlers depend on, as typed FastAPI dependencies: `Ctx` (the cloud's services,
services.catalog.CloudServices, built once by bootstrap) and `Caller` (the authenticated
principal).  Routes import from here (never from app.py, which imports the routes).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from stratuslab.api.credentials import credentials_from_scope
from stratuslab.core.auth import Credentials
from stratuslab.core.entities import Principal
from stratuslab.services.catalog import CloudServices


def credentials_from(request: Request) -> Credentials:
    return credentials_from_scope(request.scope)


def services_of(request: Request) -> CloudServices:
    services: CloudServices = request.app.state.services
    return services


def current_principal(request: Request) -> Principal:
    return services_of(request).authenticate(credentials_from(request))


#: the cloud's services, typed (ctx.compute, ctx.network, ctx.volumes...)
Ctx = Annotated[CloudServices, Depends(services_of)]
#: the authenticated caller (401 otherwise)
Caller = Annotated[Principal, Depends(current_principal)]
