"""Host enrolment: administrators add (a one-time token), revoke and remove hosts; an agent
trades its token and certificate request for its host certificate (`POST /api/v1/enrol`, no
other credentials: the token is the credential), then reports with that certificate
(`POST /api/v1/agent/report`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, Field

from stratuslab.api.credentials import cert_chain_of
from stratuslab.api.rest.deps import Caller, Ctx

router = APIRouter(tags=["hosts"])


class HostAdd(BaseModel):
    name: str = Field(max_length=128)


class Enrol(BaseModel):
    token: str = Field(max_length=256)
    csr: str = Field(max_length=16384)


@router.post("/hosts", status_code=201)
def add_host(body: HostAdd, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    token, expires = ctx.enrolment.add(caller, body.name)
    return {"name": body.name, "token": token, "expires_at": expires.isoformat()}


@router.post("/hosts/{name}/revoke")
def revoke_host(name: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return {"name": name, "revoked_certificates": ctx.enrolment.revoke(caller, name)}


@router.delete("/hosts/{name}")
def remove_host(name: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    ctx.enrolment.remove(caller, name)
    return {"name": name, "removed": True}


@router.post("/enrol")
def enrol(body: Enrol, ctx: Ctx) -> dict[str, Any]:
    certificate, ca = ctx.enrolment.enroll(body.token, body.csr)
    return {"certificate": certificate, "ca": ca}


@router.get("/enrol/ca")
def cloud_ca(ctx: Ctx) -> dict[str, str]:
    """The cloud CA's certificate: an enrolling agent checks it against its token's fingerprint
    before sending the token."""
    return {"ca": ctx.enrolment.ca.ca_pem()}


@router.post("/agent/report")
def agent_report(request: Request, ctx: Ctx,
                 report: dict[str, Any] = Body(...)) -> dict[str, str]:
    """A node agent's heartbeat, capacity and VM states; its host certificate is its identity
    (served on the TLS listener, which hands the client's chain over)."""
    return {"host": ctx.agents.receive(cert_chain_of(request.scope), report)}
