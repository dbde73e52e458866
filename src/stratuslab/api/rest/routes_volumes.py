"""/api/v1/volumes (persistent volumes: create, list with `key:pattern` filters, show, update,
delete, attach/detach to a running VM) and /api/v1/storage/quarantine (admins).

The VolumeService is ctx.volumes and the hot-plug use case ctx.vm_volumes (services.catalog);
the VM is loaded through ctx.compute with the
permission to act on it.  Adapter only: never imports drivers, persistence or settings.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from stratuslab.api.rest.deps import Caller, Ctx
from stratuslab.core.errors import NotFound
from stratuslab.core.volumes import CreateVolume, UpdateVolume

router = APIRouter(prefix="/api/v1", tags=["volumes"])  # added by bootstrap/storage.py


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VolumeBody(_Strict):
    size: Any = Field(description="GiB, 1-1024")
    tag: str = Field("", description="at most 40 characters")
    visibility: str = Field("private", description="private | public")
    pool: str | None = Field(None, description="storage pool; default: the server's default")
    cow: str | None = Field(None, description="make a copy-on-write child of this volume")
    readonly: bool = False


class VolumeUpdateBody(_Strict):
    tag: str | None = None
    visibility: str | None = None
    readonly: bool | None = None


class VmBody(_Strict):
    vm: int = Field(description="the VM id")


def volume_out(v: Any, mounts: list[Any] | None = None) -> dict[str, Any]:
    out = {
        "id": v.uuid, "size": v.size_gb, "tag": v.tag, "owner": v.owner, "group": v.group,
        "visibility": v.visibility, "kind": v.kind, "state": v.state, "readonly": v.readonly,
        "pool": v.pool, "parent": v.parent, "vm_id": v.vm_id, "error": v.error,
        "attached_to": list(v.attached_to),
        "quarantined_at": v.quarantined_at.isoformat() if v.quarantined_at else None,
        "created_at": v.created_at.isoformat() if v.created_at else None,
    }  # fmt: skip
    if mounts is not None:
        out["mounts"] = [{"vm_id": m.vm_id, "device": m.device, "readonly": m.readonly}
                         for m in mounts]  # fmt: skip
    return out


@router.post("/volumes", status_code=201)
def create_volume(body: VolumeBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    svc = ctx.volumes
    cmd = CreateVolume(size_gb=body.size, tag=body.tag, visibility=body.visibility,
                       pool=body.pool, parent_volume=body.cow, readonly=body.readonly)  # fmt: skip
    return volume_out(svc.create(caller, cmd))


@router.get("/volumes")
def list_volumes(
    ctx: Ctx, caller: Caller,
    filter: Annotated[list[str] | None, Query(description="key:pattern (glob with * and ?, ^/$ anchors), AND-combined")] = None,
) -> list[dict[str, Any]]:  # fmt: skip
    svc = ctx.volumes
    return [volume_out(v) for v in svc.describe(caller, filters=tuple(filter or ()))]


@router.get("/volumes/{uuid}")
def show_volume(uuid: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    svc = ctx.volumes
    return volume_out(svc.get(caller, uuid), svc.mounts(caller, uuid))


@router.patch("/volumes/{uuid}")
def update_volume(uuid: str, body: VolumeUpdateBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    svc = ctx.volumes
    change = UpdateVolume(tag=body.tag, visibility=body.visibility, readonly=body.readonly)
    return volume_out(svc.update(caller, uuid, change))


@router.delete("/volumes/{uuid}")
def delete_volume(uuid: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    svc = ctx.volumes
    return volume_out(svc.delete(caller, uuid))


@router.post("/volumes/{uuid}/attach")
def attach_volume(uuid: str, body: VmBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    """Hot-plug into a running VM; answers the device name the guest sees (vdb...)."""
    vm_volumes = ctx.vm_volumes
    vm = ctx.compute.get(caller, body.vm, action="action")
    (plugged,) = vm_volumes.attach(caller, vm, [uuid])
    return {"id": plugged.volume_uuid, "vm": plugged.vm_id, "device": plugged.device,
            "readonly": plugged.readonly}  # fmt: skip


@router.post("/volumes/{uuid}/detach")
def detach_volume(uuid: str, body: VmBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    svc, vm_volumes = ctx.volumes, ctx.vm_volumes
    vm = ctx.compute.get(caller, body.vm, action="action")
    vm_volumes.detach(caller, vm, [uuid])
    return volume_out(svc.get(caller, uuid))


@router.get("/storage/quarantine")
def list_quarantine(ctx: Ctx, caller: Caller) -> list[dict[str, Any]]:
    svc = ctx.volumes
    return [volume_out(v) for v in svc.quarantined(caller)]


@router.delete("/storage/quarantine")
def purge_expired(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    """Purge the quarantined volumes whose retention has passed."""
    svc = ctx.volumes
    return {"purged": [v.uuid for v in svc.purge(caller, before=ctx.volume_retention())]}


@router.delete("/storage/quarantine/{uuid}")
def purge_one(uuid: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    """Purge one quarantined volume; a node-local root volume's bytes are in its VM's
    quarantined instance directory, which goes with it."""
    svc = ctx.volumes
    purged = svc.purge(caller, uuid)
    for vol in purged:
        if vol.kind == "root" and vol.pool == "local" and vol.vm_id is not None:
            with contextlib.suppress(NotFound):
                ctx.quarantine.purge(caller, vol.vm_id)
    return {"purged": [v.uuid for v in purged]}
