"""/api/v1/vms and /api/v1/jobs."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Header, Query
from fastapi.responses import PlainTextResponse

from stratuslab.api.rest.deps import Caller, Ctx
from stratuslab.api.rest.schemas import RunInstanceBody, event_out, image_out, job_out, vm_out
from stratuslab.core.commands import KillVm, RunInstance, vm_command
from stratuslab.core.errors import Forbidden
from stratuslab.core.ports import Page

router = APIRouter(tags=["vms"])


@router.post("/vms", status_code=202)
def run_instances(
    body: RunInstanceBody, ctx: Ctx, caller: Caller,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> dict[str, Any]:
    if body.extra and not caller.is_admin:
        raise Forbidden("the 'extra' driver hints are reserved to admins")
    cmd = RunInstance(
        image_id=body.image, instance_type=body.type, count=body.count, cpu=body.cpu,
        ram_mib=body.ram, swap_mib=body.swap, name=body.name, idempotency_key=idempotency_key,
        hold=body.hold, context_method=body.context_method, context=body.context,
        ssh_keys=tuple(body.ssh_keys), user_data=body.user_data,
        volatile_gb=tuple(body.volatile_disks), extra=body.extra, nics=tuple(body.nics),
        persistent_disks=tuple(body.persistent_disks), readonly_disks=tuple(body.readonly_disks),
        requirements=body.requirements, rank=body.rank, ha=body.ha,
    )
    made = ctx.compute.run(caller, cmd)
    return {"vms": [vm_out(vm) for vm, _ in made], "jobs": [job_out(j) for _, j in made]}


@router.get("/vms")
def list_vms(
    ctx: Ctx, caller: Caller,
    state: Annotated[list[str] | None, Query()] = None,
    owner: str | None = None,
    include_done: bool = False,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    vms, total = ctx.compute.list(
        caller, owner=owner, states=tuple(state or ()), include_done=include_done,
        page=Page(offset, limit),
    )
    following = None
    if offset + limit < total:
        query = [("state", s) for s in state or ()] + [
            (k, v) for k, v in (("owner", owner), ("include_done", str(include_done).lower()),
                                ("offset", offset + limit), ("limit", limit)) if v is not None]
        following = f"/api/v1/vms?{urlencode(query)}"
    return {"items": [vm_out(vm) for vm in vms], "total": total, "offset": offset, "limit": limit,
            "next": following}


@router.get("/vms/{vm_id}")
def show_vm(vm_id: int, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return vm_out(ctx.compute.get(caller, vm_id))


@router.post("/vms/{vm_id}/actions/{action}", status_code=202)
def act(vm_id: int, action: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    job = ctx.compute.act(caller, vm_command(action, vm_id))
    return {"job": job_out(job), "vm": vm_out(ctx.compute.get(caller, vm_id))}


@router.post("/vms/{vm_id}/save-disk", status_code=201)
def save_disk(vm_id: int, name: Annotated[str, Body(embed=True)], ctx: Ctx,
              caller: Caller) -> dict[str, Any]:
    """Save a powered-off VM's root disk as a new private image of the caller's."""
    return image_out(ctx.images.save_vm_disk(caller, vm_id, name))


@router.delete("/vms/{vm_id}", status_code=202)
def kill(vm_id: int, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    job = ctx.compute.act(caller, KillVm(vm_id))
    return {"job": job_out(job), "vm": vm_out(ctx.compute.get(caller, vm_id))}


@router.get("/vms/{vm_id}/events")
def events(vm_id: int, ctx: Ctx, caller: Caller) -> list[dict[str, Any]]:
    return [event_out(e) for e in ctx.compute.events(caller, vm_id)]


@router.get("/vms/{vm_id}/console", response_class=PlainTextResponse)
def console(vm_id: int, ctx: Ctx, caller: Caller) -> str:
    data: bytes = ctx.compute.console(caller, vm_id)
    return data.decode("utf-8", errors="replace")


@router.get("/jobs")
def list_jobs(
    ctx: Ctx, caller: Caller, vm_id: int | None = None,
    marker: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The caller's jobs, newest first, one page at a time: `next` is the path of the next page
    (jobs older than this page's last, `marker` = its id), null on the last page."""
    jobs = ctx.compute.jobs(caller, vm_id=vm_id, page=Page(0, limit + 1), before=marker)
    page, more = jobs[:limit], len(jobs) > limit
    following = None
    if more:
        query = urlencode({k: v for k, v in (("vm_id", vm_id), ("limit", limit),
                                               ("marker", page[-1].id)) if v is not None})
        following = f"/api/v1/jobs?{query}"
    return {"items": [job_out(j) for j in page], "limit": limit, "marker": marker,
            "next": following}


@router.get("/jobs/{job_id}")
def show_job(job_id: int, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return job_out(ctx.compute.job(caller, job_id))
