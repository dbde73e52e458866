"""/api/v1/hosts: the compute nodes as data (any user lists and shows; administrators enable,
disable, take offline, flush and recover a failed host)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from stratuslab.api.rest.deps import Caller, Ctx
from stratuslab.core.hosts import Host, HostState

router = APIRouter(tags=["hosts"])


def host_out(h: Host) -> dict[str, Any]:
    return {"id": h.id, "name": h.name, "state": h.state.value, "cpus": h.cpus,
            "memory_mib": h.memory_mib, "reserved_cpus": h.reserved_cpus,
            "reserved_memory_mib": h.reserved_memory_mib, "allocated_vcpu": h.allocated_vcpu,
            "allocated_memory_mib": h.allocated_memory_mib, "free_cpus": h.free_cpus,
            "free_memory_mib": h.free_memory_mib, "used_memory_mib": h.used_memory_mib,
            "load1": h.load1, "vms": h.vms, "version": h.version, "front_end": h.front_end,
            "attributes": h.attributes,
            "heartbeat_at": h.heartbeat_at.isoformat() if h.heartbeat_at else None}


@router.get("/hosts")
def list_hosts(ctx: Ctx, caller: Caller) -> list[dict[str, Any]]:
    return [host_out(h) for h in ctx.hosts.list(caller)]


@router.get("/hosts/{name}")
def show_host(name: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return host_out(ctx.hosts.show(caller, name))


@router.post("/hosts/{name}/enable")
def enable_host(name: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return host_out(ctx.hosts.set_state(caller, name, HostState.MONITORED))


@router.post("/hosts/{name}/disable")
def disable_host(name: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return host_out(ctx.hosts.set_state(caller, name, HostState.DISABLED))


@router.post("/hosts/{name}/offline")
def offline_host(name: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return host_out(ctx.hosts.set_state(caller, name, HostState.OFFLINE))


@router.post("/hosts/{name}/recover")
def recover_host(name: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    """Fence a failed host, then restart its unknown VMs elsewhere."""
    return {"host": name, "restarted": ctx.hosts.recover(caller, name)}


@router.post("/hosts/{name}/flush")
def flush_host(name: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    ctx.hosts.flush(caller, name)
    return {}
