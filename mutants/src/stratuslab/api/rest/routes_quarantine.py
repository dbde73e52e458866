"""/api/v1/quarantine: finished VMs' instance directories kept for forensics (admins only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from stratuslab.api.rest.deps import Caller, Ctx

router = APIRouter(tags=["quarantine"])


def _ts(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _out(q: Any) -> dict[str, Any]:
    e = q.entry
    return {"id": e.vm_id, "name": f"vm-{e.vm_id}", "state": "quarantined", "owner": e.owner,
            "host": q.node, "path": e.path, "size_bytes": e.size_bytes,
            "quarantined_at": _ts(e.quarantined_at), "expires_at": _ts(q.expires_at),
            "files": list(q.files)}


@router.get("/quarantine")
def list_quarantine(ctx: Ctx, caller: Caller) -> list[dict[str, Any]]:
    return [_out(q) for q in ctx.quarantine.list(caller)]


@router.get("/quarantine/{vm_id}")
def show_quarantine(vm_id: int, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return _out(ctx.quarantine.show(caller, vm_id))


@router.delete("/quarantine")
def purge_expired(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return {"purged": ctx.quarantine.purge(caller)}


@router.delete("/quarantine/{vm_id}")
def purge_one(vm_id: int, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return {"purged": ctx.quarantine.purge(caller, vm_id)}
