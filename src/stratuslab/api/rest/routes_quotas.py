"""/api/v1/quotas: compute quotas (VMs, vCPUs, memory, disk) of users and groups.

    GET    /api/v1/quotas                      the caller's user and primary group
    GET    /api/v1/quotas/{users|groups}/NAME  one subject (its members, or administrators)
    PUT    /api/v1/quotas/{users|groups}/NAME  {"vms": 4, "cpu": null, ...}: set the given
                                               limits (null: unlimited; others kept); admins
    DELETE /api/v1/quotas/{users|groups}/NAME  drop its own limits: the defaults apply again

The ComputeQuotas service arrives as ctx.compute_quotas.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from stratuslab.api.rest.deps import Caller, Ctx
from stratuslab.core.quotas import QuotaReport, Subject, SubjectKind

router = APIRouter(tags=["quotas"])


class QuotaLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vms: int | None = Field(default=None, ge=0)
    cpu: int | None = Field(default=None, ge=0)
    memory_mib: int | None = Field(default=None, ge=0)
    disk_gb: int | None = Field(default=None, ge=0)


def report_out(r: QuotaReport) -> dict[str, Any]:
    fields = ("vms", "cpu", "memory_mib", "disk_gb")
    return {"kind": r.subject.kind.value, "name": r.subject.name, "own": r.own,
            "limits": {k: getattr(r.limits, k) for k in fields},
            "usage": {k: getattr(r.usage, k) for k in fields}}


def _quotas(ctx: Ctx) -> Any:
    return ctx.compute_quotas


@router.get("/quotas")
def my_quotas(ctx: Ctx, caller: Caller) -> list[dict[str, Any]]:
    return [report_out(r) for r in _quotas(ctx).show(caller)]


def _routes(collection: str, kind: SubjectKind) -> None:
    path = f"/quotas/{collection}/{{name}}"

    def show(name: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
        [report] = _quotas(ctx).show(caller, Subject(kind, name))
        return report_out(report)

    def set_limits(name: str, body: QuotaLimits, ctx: Ctx, caller: Caller) -> dict[str, Any]:
        changes = body.model_dump(exclude_unset=True)
        return report_out(_quotas(ctx).set(caller, Subject(kind, name), changes))

    def reset(name: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
        return report_out(_quotas(ctx).set(caller, Subject(kind, name), None))

    router.add_api_route(path, show, methods=["GET"], name=f"show_{kind.value}_quota")
    router.add_api_route(path, set_limits, methods=["PUT"], name=f"set_{kind.value}_quota")
    router.add_api_route(path, reset, methods=["DELETE"], name=f"reset_{kind.value}_quota")


_routes("users", SubjectKind.USER)
_routes("groups", SubjectKind.GROUP)
