"""StratusLab's persistent disk service (pdisk) paths over the same VolumeService:

    GET    /pdisk/disks                          the caller's disks (all for admins)
    POST   /pdisk/disks          form size, tag, visibility     -> 201 {"uuid": ...}
    GET    /pdisk/disks/{uuid}                   properties
    PUT    /pdisk/disks/{uuid}   form tag, visibility           (owner or admin)
    DELETE /pdisk/disks/{uuid}                   409 while mounted
    GET    /pdisk/disks/{uuid}/mounts            [{vmId, device}]
    POST   /pdisk/disks/{uuid}/mounts  form vm_id[, node]       hot-plug into a running VM
    DELETE /pdisk/disks/{uuid}/mounts/{uuid}_{vmid}             hot-unplug

Each path also answers with a trailing slash (as the 14.06 client sends it; no redirect), and
mount/unmount replies carry the device as `target` (what that client reads).
Served under `/pdisk`, `/pdisk/pswd` and `/pdisk/cert` (the old client appends the credential
kind to `pdisk_endpoint`), and under `/pswd/pdisk...`/`/cert/pdisk...` through the classic-prefix
middleware.  Bodies are form-encoded; answers are JSON, errors `{"message", "code"}` as pdisk's.
Adapter only: never imports drivers, persistence or settings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from stratuslab.api.rest.deps import Caller, Ctx
from stratuslab.api.rest.errors import STATUS
from stratuslab.core.errors import CloudError, InvalidInput
from stratuslab.core.volumes import CreateVolume, UpdateVolume

router = APIRouter(tags=["pdisk"])
PREFIXES = ("/pdisk", "/pdisk/pswd", "/pdisk/cert")


def disk_out(v: Any) -> dict[str, Any]:
    return {
        "uuid": v.uuid, "tag": v.tag, "count": len(v.attached_to), "owner": v.owner,
        "identifier": f"snapshot:{v.parent.partition(':')[2]}" if v.parent else "",
        "quarantine": v.quarantined_at.isoformat(" ") if v.quarantined_at else "",
        "size": v.size_gb, "type": _type(v), "visibility": v.visibility.upper(),
    }  # fmt: skip


def _type(v: Any) -> str:
    if v.kind == "root":
        return "MACHINE_IMAGE_LIVE"
    return "DATA_IMAGE_RAW_READONLY" if v.readonly else "DATA_IMAGE_RAW_READ_WRITE"


def _error(exc: CloudError) -> JSONResponse:
    code = STATUS[exc.kind]
    return JSONResponse({"message": exc.full_message, "code": code}, code)


def _guard(fn: Callable[[], Any], status: int = 200) -> Any:
    try:
        return JSONResponse(fn(), status)
    except CloudError as exc:
        return _error(exc)


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _int(form: dict[str, str], key: str) -> int:
    try:
        return int(form.get(key, ""))
    except ValueError:
        raise InvalidInput(f"form field {key} must be a number, not {form.get(key)!r}") from None


def list_disks(ctx: Ctx, caller: Caller) -> Any:
    svc = ctx.volumes
    return _guard(lambda: [disk_out(v) for v in svc.describe(caller)])


async def create_disk(request: Request, ctx: Ctx, caller: Caller) -> Any:
    svc = ctx.volumes
    form = await _form(request)

    def create() -> dict[str, str]:
        cmd = CreateVolume(size_gb=_int(form, "size"), tag=form.get("tag", ""),
                           visibility=form.get("visibility", "private").lower())  # fmt: skip
        return {"uuid": svc.create(caller, cmd).uuid}

    return await run_in_threadpool(_guard, create, 201)


def show_disk(uuid: str, ctx: Ctx, caller: Caller) -> Any:
    svc = ctx.volumes
    return _guard(lambda: disk_out(svc.get(caller, uuid)))


async def update_disk(uuid: str, request: Request, ctx: Ctx, caller: Caller) -> Any:
    svc = ctx.volumes
    form = await _form(request)
    visibility = form.get("visibility")
    change = UpdateVolume(tag=form.get("tag"), visibility=visibility.lower() if visibility else None)
    return await run_in_threadpool(_guard, lambda: disk_out(svc.update(caller, uuid, change)))


def delete_disk(uuid: str, ctx: Ctx, caller: Caller) -> Any:
    svc = ctx.volumes
    return _guard(lambda: {"uuid": svc.delete(caller, uuid).uuid})


def list_mounts(uuid: str, ctx: Ctx, caller: Caller) -> Any:
    svc = ctx.volumes
    return _guard(lambda: [{"vmId": m.vm_id, "device": m.device or "static"}
                           for m in svc.mounts(caller, uuid)])  # fmt: skip


async def mount_disk(uuid: str, request: Request, ctx: Ctx, caller: Caller) -> Any:
    vm_volumes = ctx.vm_volumes
    form = await _form(request)

    def mount() -> dict[str, Any]:
        vm = ctx.compute.get(caller, _int(form, "vm_id"), action="action")
        (plugged,) = vm_volumes.attach(caller, vm, [uuid])
        # `target` is what the 14.06 client prints ("ATTACHED ... on /dev/<target>")
        return {"uuid": uuid, "vmId": plugged.vm_id, "device": plugged.device,
                "target": plugged.device}

    return await run_in_threadpool(_guard, mount)


def unmount_disk(uuid: str, mount_id: str, ctx: Ctx, caller: Caller) -> Any:
    svc, vm_volumes = ctx.volumes, ctx.vm_volumes

    def unmount() -> dict[str, Any]:
        _, sep, vm_text = mount_id.rpartition("_")
        if not sep or not vm_text.isdigit():
            raise InvalidInput(f"mount id {mount_id!r} is not <uuid>_<vmid>")
        vm = ctx.compute.get(caller, int(vm_text), action="action")
        device = next((m.device for m in svc.mounts(caller, uuid) if m.vm_id == vm.id), None)
        vm_volumes.detach(caller, vm, [uuid])
        return {"uuid": uuid, "vmId": int(vm_text), "target": device or ""}

    return _guard(unmount)


def _paths(path: str) -> tuple[str, str]:
    """The path and its trailing-slash twin: the 14.06 client posts to `.../disks/` and deletes
    `.../disks/{uuid}/`, and cannot follow a redirect for POST or DELETE."""
    return path, path + "/"


for _prefix in PREFIXES:
    for _path in _paths(f"{_prefix}/disks"):
        router.add_api_route(_path, list_disks, methods=["GET"])
        router.add_api_route(_path, create_disk, methods=["POST"])
    for _path in _paths(f"{_prefix}/disks/{{uuid}}"):
        router.add_api_route(_path, show_disk, methods=["GET", "HEAD"])
        router.add_api_route(_path, update_disk, methods=["PUT"])
        router.add_api_route(_path, delete_disk, methods=["DELETE"])
    for _path in _paths(f"{_prefix}/disks/{{uuid}}/mounts"):
        router.add_api_route(_path, list_mounts, methods=["GET"])
        router.add_api_route(_path, mount_disk, methods=["POST"])
    for _path in _paths(f"{_prefix}/disks/{{uuid}}/mounts/{{mount_id}}"):
        router.add_api_route(_path, unmount_disk, methods=["DELETE"])
