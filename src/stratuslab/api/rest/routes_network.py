"""/api/v1 networks, address ranges, holds, reservations, security groups and NIC hot-plug.

The NetworkService is ctx.network and NIC hot-plug (VmNics) ctx.vm_nics (services.catalog).  Adapter only: request bodies -> service calls -> JSON; never imports
drivers, persistence or settings.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from stratuslab.api.rest.deps import Caller, Ctx
from stratuslab.api.rest.schemas import job_out

router = APIRouter(prefix="/api/v1", tags=["network"])  # added by bootstrap/network.py


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NetworkBody(_Strict):
    name: str
    subnet: str = Field(description="IPv4 CIDR, e.g. 10.20.0.0/24")
    ranges: list[str] | None = Field(None, description="FIRST-LAST or CIDR; default: the subnet")
    gateway: str | None = None
    dns: list[str] | None = None
    ipv6_prefix: str | None = None
    ipv6_mode: str | None = Field(None, description="none | slaac | static")
    mac_prefix: str | None = None
    segment_id: int | None = Field(None, description="VNI or VLAN id; default: from the pool")
    segment_kind: str | None = Field(None, description="vxlan | vlan")
    address_class: str | None = Field(
        None, description="public | local | private (admins) | tenant (a user's own network)")


class ShareBody(_Strict):
    permissions: str | None = Field(None, description='owner/group/other, "um-u-----" or "640"')
    group: str | None = Field(None, description="the group the group rights apply to")


class RouterBody(_Strict):
    enabled: bool = Field(description="true: NAT to the external network; false: no router")
    external: str = Field("public", description="the cloud network the router leads to")


class FloatingBody(_Strict):
    private_ip: str = Field(description="the guest address the floating address maps to")


class RangeBody(_Strict):
    range: str = Field(description="FIRST-LAST or a CIDR")


class HoldBody(_Strict):
    ip: str
    reason: str = ""


class ReservationBody(_Strict):
    network: str
    count: int = 1
    name: str = ""


class GroupBody(_Strict):
    name: str
    description: str = ""
    rules: list[str] = Field([], description="e.g. 'inbound tcp 80 0.0.0.0/0'")


class RuleBody(_Strict):
    rule: str


class AttachBody(_Strict):
    groups: list[str]


class NicBody(_Strict):
    network: str
    ip: str | None = None


def network_out(view: Any) -> dict[str, Any]:
    n, u = view.network, view.usage
    return {
        "name": n.name, "class": n.address_class.value, "subnet": n.subnet,
        "ranges": [str(r) for r in n.ranges], "gateway": n.gateway, "dns": list(n.dns),
        "ipv6_prefix": n.ipv6_prefix, "ipv6_mode": n.ipv6_mode.value,
        "segment_kind": n.segment_kind.value, "segment": n.segment_id,
        "mac_prefix": n.mac_prefix, "size": u.size, "leases_used": u.leases_used,
        "held": u.held, "free": u.free, "owner": n.owner, "group": n.group,
        "permissions": n.permissions, "router": _router_out(n.router),
    }  # fmt: skip


def _router_out(router: Any) -> dict[str, Any] | None:
    if router is None:
        return None
    return {"external": router.external.name, "ip": router.ip,
            "floating": [{"ip": f.ip, "private_ip": f.private_ip} for f in router.floating]}


def lease_out(le: Any) -> dict[str, Any]:
    return {"network": le.network, "ip": le.ip, "ipv6": le.ipv6, "mac": le.mac, "vm_id": le.vm_id,
            "reservation_id": le.reservation_id, "owner": le.owner}  # fmt: skip


def reservation_out(res: Any, leases: list[Any]) -> dict[str, Any]:
    return {"id": res.id, "network": res.network, "owner": res.owner, "size": res.size,
            "name": res.name, "addresses": [le.ip for le in leases],
            "in_use": sum(1 for le in leases if le.vm_id is not None)}  # fmt: skip


def group_out(g: Any) -> dict[str, Any]:
    return {"name": g.name, "owner": g.owner, "description": g.description,
            "rules": [rule_text(r) for r in g.rules]}  # fmt: skip


def rule_text(r: Any) -> str:
    parts = [r.direction.value, r.protocol.value]
    if r.ports:
        lo, hi = r.ports
        parts.append(str(lo) if lo == hi else f"{lo}-{hi}")
    if r.remote_cidr:
        parts.append(r.remote_cidr)
    if r.remote_group:
        parts.append(f"group:{r.remote_group}")
    return " ".join(parts)


# --- networks ----------------------------------------------------------------------------


@router.get("/networks")
def list_networks(ctx: Ctx, caller: Caller) -> list[dict[str, Any]]:
    return [network_out(v) for v in ctx.network.networks(caller)]


@router.post("/networks", status_code=201)
def create_network(body: NetworkBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    table = body.model_dump(exclude={"name"}, exclude_none=True)
    ctx.network.create(caller, body.name, table)
    return show_network(body.name, ctx, caller)


@router.get("/networks/{name}")
def show_network(name: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    view, leases, holds = ctx.network.show(name, caller)
    out = network_out(view)
    mine = [le for le in leases if caller.is_admin or le.owner == caller.user]
    out["leases"] = [lease_out(le) for le in mine]
    out["holds"] = [{"ip": h.ip, "reason": h.reason} for h in holds] if caller.is_admin else []
    return out


@router.delete("/networks/{name}", status_code=204)
def delete_network(name: str, ctx: Ctx, caller: Caller) -> None:
    ctx.network.delete(caller, name)


@router.post("/networks/{name}/permissions")
def share_network(name: str, body: ShareBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    ctx.network.share(caller, name, permissions=body.permissions, group=body.group)
    return show_network(name, ctx, caller)


@router.post("/networks/{name}/router")
def set_router(name: str, body: RouterBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    ctx.network.set_router(caller, name, enabled=body.enabled, external=body.external)
    return show_network(name, ctx, caller)


@router.post("/networks/{name}/floating", status_code=201)
def add_floating(name: str, body: FloatingBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    fip = ctx.network.add_floating(caller, name, body.private_ip)
    return {"ip": fip.ip, "private_ip": fip.private_ip}


@router.delete("/networks/{name}/floating/{ip}", status_code=204)
def remove_floating(name: str, ip: str, ctx: Ctx, caller: Caller) -> None:
    ctx.network.remove_floating(caller, name, ip)


@router.post("/networks/{name}/ranges", status_code=201)
def add_range(name: str, body: RangeBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    ctx.network.add_range(caller, name, body.range)
    return show_network(name, ctx, caller)


@router.delete("/networks/{name}/ranges/{text:path}")
def remove_range(name: str, text: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    ctx.network.remove_range(caller, name, text)
    return show_network(name, ctx, caller)


@router.post("/networks/{name}/holds", status_code=201)
def hold(name: str, body: HoldBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    ctx.network.hold(caller, name, body.ip, body.reason)
    return {"network": name, "ip": body.ip, "reason": body.reason}


@router.delete("/networks/{name}/holds/{ip}", status_code=204)
def release_hold(name: str, ip: str, ctx: Ctx, caller: Caller) -> None:
    ctx.network.release_hold(caller, name, ip)


# --- reservations ------------------------------------------------------------------------


@router.get("/reservations")
def list_reservations(ctx: Ctx, caller: Caller) -> list[dict[str, Any]]:
    return [reservation_out(r, leases) for r, leases in ctx.network.reservations(caller)]


@router.post("/reservations", status_code=201)
def reserve(body: ReservationBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    res, leases = ctx.network.reserve(caller, body.network, body.count, body.name)
    return reservation_out(res, leases)


@router.delete("/reservations/{reservation_id}", status_code=204)
def release_reservation(reservation_id: int, ctx: Ctx, caller: Caller) -> None:
    ctx.network.release_reservation(caller, reservation_id)


# --- security groups ---------------------------------------------------------------------


@router.get("/secgroups")
def list_groups(ctx: Ctx, caller: Caller) -> list[dict[str, Any]]:
    return [group_out(g) for g in ctx.network.groups(caller)]


@router.post("/secgroups", status_code=201)
def create_group(body: GroupBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return group_out(ctx.network.create_group(caller, body.name, body.rules, body.description))


@router.get("/secgroups/{name}")
def show_group(name: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return group_out(ctx.network.group(caller, name))


@router.delete("/secgroups/{name}", status_code=204)
def delete_group(name: str, ctx: Ctx, caller: Caller) -> None:
    ctx.network.delete_group(caller, name)


@router.post("/secgroups/{name}/rules", status_code=201)
def add_rule(name: str, body: RuleBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return group_out(ctx.network.add_rule(caller, name, body.rule))


@router.post("/secgroups/{name}/rules/delete")
def delete_rule(name: str, body: RuleBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return group_out(ctx.network.delete_rule(caller, name, body.rule))


@router.post("/vms/{vm_id}/secgroups")
def attach_groups(vm_id: int, body: AttachBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    vm = ctx.network.attach(caller, vm_id, body.groups)
    return {"id": vm.id, "nics": vm.spec.nics}


@router.get("/vms/{vm_id}/nics")
def list_nics(vm_id: int, ctx: Ctx, caller: Caller) -> list[dict[str, Any]]:
    """The VM's NICs in order: nic_id, network, ip, mac, ipv6."""
    return [{"id": n["nic_id"], "name": n.get("network"), "state": "attached", **n}
            for n in ctx.vm_nics.nics(caller, vm_id)]


@router.post("/vms/{vm_id}/nics", status_code=202)
def attach_nic(vm_id: int, body: NicBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    """Hot-plug a NIC on `network` into the running VM: 202 with the job, whose `result` is the
    NIC's facts (nic_id, mac, ip, device...) once it is done."""
    return {"job": job_out(ctx.vm_nics.queue_attach(caller, vm_id, body.network, body.ip))}


@router.delete("/vms/{vm_id}/nics/{nic}", status_code=202)
def detach_nic(vm_id: int, nic: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    """Unplug the VM's NIC given by MAC or NIC id (only its last, never its only one): 202 with
    the job."""
    return {"job": job_out(ctx.vm_nics.queue_detach(caller, vm_id, nic))}
