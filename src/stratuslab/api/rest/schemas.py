"""Request and response bodies of the REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunInstanceBody(Strict):
    image: int = Field(description="image id (stratus image list)")
    type: str | None = Field(None, description="instance type (stratus list-types)")
    count: int = 1
    cpu: int | None = None
    ram: int | None = Field(None, description="memory in MiB")
    swap: int | None = Field(None, description="swap in MiB")
    name: str | None = None
    hold: bool = False
    context_method: str = "cloud-init"
    context: dict[str, str] = {}
    ssh_keys: list[str] = []
    user_data: str | None = None
    volatile_disks: list[int] = Field([], description="sizes in GB")
    persistent_disks: list[str] = Field([], description="volume UUIDs attached writable")
    readonly_disks: list[str] = Field([], description="volume UUIDs or marketplace ids, read-only")
    nics: list[dict[str, str]] = Field(
        [], description="NICs: {network, ip, secgroup (comma separated), reservation}; "
        "none: one NIC on the default network")
    requirements: str = Field("", max_length=1024, description="hosts it may run on, e.g. "
                              'CPUS >= 4 & ARCH = "x86*" (attributes: stratus host show)')
    rank: str = Field("", max_length=64, description="pack, stripe or load; empty: the cloud's "
                      "[scheduler] policy")
    ha: bool = Field(False, description="restarted on another host once its failed host is "
                     "fenced")
    extra: dict[str, Any] = Field({}, description="driver hints (admin only)")


class ActionBody(Strict):
    action: str | None = None


class RegisterImageBody(Strict):
    name: str
    source: str = Field(description="a path on the server, or an http(s)/file URL")
    sha1: str | None = None
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None
    public: bool = False
    inbound_ports: list[int] = Field([], description="TCP ports the VMs' default firewall opens")


class BuildImageBody(Strict):
    recipe: str = "tiny"
    name: str | None = None


class CreateUserBody(Strict):
    name: str
    password: str
    groups: list[str] = []
    admin: bool = False
    dn: str | None = None


class PasswordBody(Strict):
    password: str


class CreateGroupBody(Strict):
    name: str


class TokenBody(Strict):
    ttl_hours: float | None = None


def vm_out(vm: Any) -> dict[str, Any]:
    return {
        "id": vm.id, "name": vm.name, "state": vm.state, "owner": vm.owner, "group": vm.group,
        "image_id": vm.image_id, "instance_type": vm.instance_type, "vcpu": vm.vcpu,
        "memory_mib": vm.memory_mib, "swap_mib": vm.swap_mib, "disk_gb": vm.disk_gb, "host": vm.host, "ip": vm.ip,
        "ipv6": vm.ipv6, "mac": vm.mac, "error": vm.error, "last_action": vm.last_action,
        "created_at": _ts(vm.created_at), "updated_at": _ts(vm.updated_at),
    }


def job_out(job: Any) -> dict[str, Any]:
    return {
        "id": job.id, "kind": job.kind, "state": job.state, "owner": job.owner,
        "vm_id": job.vm_id, "target_state": job.target_state, "error": job.error,
        "attempts": job.attempts, "created_at": _ts(job.created_at), "updated_at": _ts(job.updated_at),
        # long jobs (image import) report where they are: step, {"done", "total"}, result image
        "step": job.step, "progress": job.params.get("progress"),
        "image_id": job.params.get("image_id"),
        "result": job.params.get("result"),  # what a finished job made (a NIC's facts)
    }


def image_out(image: Any) -> dict[str, Any]:
    return {
        "id": image.id, "name": image.name, "state": image.state, "owner": image.owner,
        "group": image.group, "format": image.format, "size_bytes": image.size_bytes,
        "sha1": image.sha1, "public": image.public, "source": image.source,
        "kernel": bool(image.kernel), "marketplace_id": image.marketplace_id,
        "created_at": _ts(image.created_at), "inbound_ports": list(image.inbound_ports),
    }


def user_out(user: Any) -> dict[str, Any]:
    return {
        "id": user.id, "name": user.name, "groups": user.groups, "roles": user.roles,
        "enabled": user.enabled, "dn": user.dn, "state": "enabled" if user.enabled else "disabled",
        "owner": user.name, "created_at": _ts(user.created_at),
    }


def event_out(ev: Any) -> dict[str, Any]:
    return {
        "id": ev.id, "at": _ts(ev.at), "kind": ev.kind, "actor": ev.actor, "message": ev.message,
        "host": ev.host, "ip": ev.ip, "mac": ev.mac,
    }


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
