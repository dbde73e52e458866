"""/api/v1/cloud/load: the cloud's capacity, allocation and VMs per state (any user, as the
StratusLab cloud-load page was)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from stratuslab.api.rest.deps import Caller, Ctx

router = APIRouter(tags=["cloud"])


@router.get("/cloud/load")
def cloud_load(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    load = ctx.cloudstats.load()
    hosts = []
    for h in load.hosts:
        cap = h.capacity
        hosts.append({
            "id": h.name, "name": h.name, "state": "on" if cap else "error", "owner": "",
            "cpus": cap.cpus if cap else None, "memory_mib": cap.memory_mib if cap else None,
            "load1": cap.load1 if cap else None,
            "allocated_vcpu": h.allocated_vcpu, "allocated_memory_mib": h.allocated_memory_mib,
            "free_vcpu": max(cap.cpus - h.allocated_vcpu, 0) if cap else None,
            "free_memory_mib": max(cap.memory_mib - h.allocated_memory_mib, 0) if cap else None,
            "vms": h.vms,
        })
    return {"hosts": hosts, "vms_by_state": load.vms_by_state,
            "totals": {"hosts": len(hosts), "vms": sum(load.vms_by_state.values()),
                       "allocated_vcpu": sum(h.allocated_vcpu for h in load.hosts),
                       "allocated_memory_mib": sum(h.allocated_memory_mib for h in load.hosts)}}
