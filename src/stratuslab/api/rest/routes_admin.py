"""/api/v1 images, instance types, users, groups, tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from stratuslab.api.rest.deps import Caller, Ctx
from stratuslab.api.rest.schemas import (
    BuildImageBody,
    CreateGroupBody,
    CreateUserBody,
    PasswordBody,
    RegisterImageBody,
    TokenBody,
    image_out,
    job_out,
    user_out,
)

router = APIRouter()


@router.get("/images", tags=["images"])
def list_images(ctx: Ctx, caller: Caller) -> list[dict[str, Any]]:
    return [image_out(i) for i in ctx.images.list(caller)]


@router.post("/images", status_code=201, tags=["images"])
def register_image(body: RegisterImageBody, ctx: Ctx, caller: Caller) -> Any:
    """201 with the image for a server file; 202 with the image (`importing`) and the job that
    downloads it for a URL."""
    image, job = ctx.images.register_request(
        caller, body.name, body.source, sha1=body.sha1, kernel=body.kernel, initrd=body.initrd,
        cmdline=body.cmdline, public=body.public, inbound_ports=body.inbound_ports,
    )
    if job is None:
        return {**image_out(image), "job": None}
    return JSONResponse({**image_out(image), "job": job_out(job)}, status_code=202)


@router.post("/images/build", status_code=201, tags=["images"])
def build_image(body: BuildImageBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return image_out(ctx.images.build(caller, body.recipe, name=body.name))


@router.get("/images/{image_id}", tags=["images"])
def show_image(image_id: int, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return image_out(ctx.images.get(caller, image_id))


@router.delete("/images/{image_id}", status_code=204, tags=["images"])
def delete_image(image_id: int, ctx: Ctx, caller: Caller) -> None:
    ctx.images.delete(caller, image_id)


@router.get("/instance-types", tags=["vms"])
def instance_types(ctx: Ctx, caller: Caller) -> list[dict[str, Any]]:
    default = ctx.instance_types.default
    return [
        {"name": t.name, "cpu": t.cpu, "ram_mib": t.ram_mib, "swap_mib": t.swap_mib,
         "default": t.name == default}
        for t in ctx.instance_types.types.values()
    ]


@router.get("/users", tags=["users"])
def list_users(ctx: Ctx, caller: Caller) -> list[dict[str, Any]]:
    return [user_out(u) for u in ctx.identity.list_users(caller)]


@router.post("/users", status_code=201, tags=["users"])
def create_user(body: CreateUserBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    user = ctx.identity.create_user(
        caller, body.name, body.password, groups=body.groups or None, admin=body.admin, dn=body.dn
    )
    return user_out(user)


@router.get("/users/{name}", tags=["users"])
def show_user(name: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return user_out(ctx.identity.get_user(caller, name))


@router.put("/users/{name}/password", status_code=204, tags=["users"])
def set_password(name: str, body: PasswordBody, ctx: Ctx, caller: Caller) -> None:
    ctx.identity.set_password(caller, name, body.password)


@router.delete("/users/{name}", status_code=204, tags=["users"])
def delete_user(name: str, ctx: Ctx, caller: Caller) -> None:
    ctx.identity.delete_user(caller, name)


@router.get("/groups", tags=["users"])
def list_groups(ctx: Ctx, caller: Caller) -> list[dict[str, Any]]:
    return [{"id": g.id, "name": g.name} for g in ctx.identity.list_groups(caller)]


@router.post("/groups", status_code=201, tags=["users"])
def create_group(body: CreateGroupBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    g = ctx.identity.create_group(caller, body.name)
    return {"id": g.id, "name": g.name}


@router.delete("/groups/{name}", status_code=204, tags=["users"])
def delete_group(name: str, ctx: Ctx, caller: Caller) -> None:
    ctx.identity.delete_group(caller, name)


@router.post("/tokens", status_code=201, tags=["users"])
def issue_token(body: TokenBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    token, expires = ctx.identity.issue_token(caller, ctx.identity.token_ttl(body.ttl_hours))
    return {"token": token, "expires_at": expires, "user": caller.user}


@router.get("/tokens", tags=["users"])
def list_tokens(ctx: Ctx, caller: Caller, all: bool = False) -> list[dict[str, Any]]:
    return ctx.identity.list_tokens(caller, all_users=all)


@router.delete("/tokens/{token_id}", status_code=204, tags=["users"])
def revoke_token(token_id: str, ctx: Ctx, caller: Caller) -> None:
    ctx.identity.revoke_token(caller, token_id)


@router.get("/whoami", tags=["users"])
def whoami(caller: Caller) -> dict[str, Any]:
    return {"user": caller.user, "groups": list(caller.groups), "roles": sorted(caller.roles),
            "method": caller.method}
