"""FakeOcciBackend (in-memory OcciBackend recording what it receives) and a TestClient app
with the OCCI router mounted at /occi."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from stratuslab.api.occi import create_router
from stratuslab.api.occi.backend import (
    ComputeRequest,
    LinkRecord,
    NetworkRecord,
    NetworkRequest,
    StorageRecord,
)
from stratuslab.core.auth import Credentials
from stratuslab.core.commands import VmCommand
from stratuslab.core.entities import DEFAULT_INSTANCE_TYPES, Image, InstanceType, Principal, Vm
from stratuslab.core.errors import AuthenticationFailed, InvalidState, NotFound
from stratuslab.core.occimixins import UserMixin
from stratuslab.core.states import VmState, allowed_from, next_state, step_done

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
_TRANSIENT = (
    VmState.SHUTDOWN,
    VmState.POWEROFF_PENDING,
    VmState.EPILOG,
    VmState.BOOT,
    VmState.SAVE,
    VmState.RESTORE,
    VmState.REBOOT,
    VmState.PROLOG,
)


class FakeOcciBackend:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.images = [
            Image(
                3,
                "ttylinux",
                "alice",
                "users",
                "/img/3.qcow2",
                "qcow2",
                1 << 20,
                "a" * 40,
                marketplace_id="BN1EEkPiBx87_uLj2-sdybSI-Xb",
                created_at=NOW,
            ),
        ]
        self.vms: dict[int, Vm] = {}
        self.networks = {1: NetworkRecord(1, "public", address="10.1.0.0/24", gateway="10.1.0.1")}
        self.storage: dict[str, StorageRecord] = {}
        self.links: dict[str, LinkRecord] = {}
        self.mixins: dict[str, UserMixin] = {}  # one user: no owner check here

    def authenticate(self, credentials: Credentials) -> Principal:
        if (credentials.username, credentials.password) != ("alice", "s3cr:t"):
            raise AuthenticationFailed()
        return Principal("alice", 5, ("users",))

    def os_templates(self, principal: Principal) -> Sequence[Image]:
        return self.images

    def resource_templates(self, principal: Principal) -> Sequence[InstanceType]:
        return DEFAULT_INSTANCE_TYPES

    def compute_create(self, principal: Principal, request: ComputeRequest) -> int:
        self.calls.append(("compute_create", request))
        for net in request.network_ids:
            self.network_get(principal, net)
        vm_id = max(self.vms, default=-1) + 1
        itype = next(
            t for t in DEFAULT_INSTANCE_TYPES if t.name == (request.instance_type or "m1.small")
        )
        self.vms[vm_id] = Vm(
            vm_id,
            request.name or f"vm-{vm_id}",
            "alice",
            "users",
            "running",
            request.image_id,
            itype.name,
            request.cores or itype.cpu,
            request.memory_mib or itype.ram_mib,
            host="node-1",
            created_at=NOW,
        )
        for index, net in enumerate(request.network_ids):
            self.links[f"{vm_id}-nic{index}"] = LinkRecord(
                f"{vm_id}-nic{index}",
                "networkinterface",
                vm_id,
                net,
                {
                    "occi.networkinterface.interface": f"eth{index}",
                    "occi.networkinterface.address": "10.1.0.7",
                },
            )
        return vm_id

    def compute_get(self, principal: Principal, vm_id: int) -> Vm:
        if vm_id not in self.vms:
            raise NotFound("VM", vm_id)
        return self.vms[vm_id]

    def compute_list(self, principal: Principal) -> Sequence[Vm]:
        return list(self.vms.values())

    def compute_action(self, principal: Principal, cmd: VmCommand) -> None:
        vm_id, action = cmd.vm_id, cmd.action
        self.calls.append(("compute_action", vm_id, action))
        vm = self.compute_get(principal, vm_id)
        new = next_state(vm.vm_state, action)
        if new is None:
            raise InvalidState(
                what="VM",
                name=vm_id,
                state=vm.state,
                action=action.value,
                allowed=", ".join(allowed_from(action)),
            )
        while new in _TRANSIENT:
            new = step_done(new, action)
        self.vms[vm_id] = replace(vm, state=new.value)

    def compute_save(self, principal: Principal, vm_id: int, name: str | None) -> int:
        self.calls.append(("compute_save", vm_id, name))
        self.compute_get(principal, vm_id)
        return 1

    def compute_delete(self, principal: Principal, vm_id: int) -> None:
        self.calls.append(("compute_delete", vm_id))
        self.compute_get(principal, vm_id)
        del self.vms[vm_id]

    def compute_update(self, principal: Principal, vm_id: int, **changes: Any) -> None:
        self.calls.append(("compute_update", vm_id, changes))
        vm = self.compute_get(principal, vm_id)
        renamed = {"name": changes["name"]} if "name" in changes else {}
        self.vms[vm_id] = replace(vm, **renamed)

    def network_update(self, principal: Principal, net_id: int, **changes: Any) -> None:
        self.calls.append(("network_update", net_id, changes))

    def storage_update(self, principal: Principal, storage_id: str, **changes: Any) -> None:
        self.calls.append(("storage_update", storage_id, changes))
        vol = self.storage_get(principal, storage_id)
        self.storage[storage_id] = replace(vol, size_gib=changes.get("size_gib", vol.size_gib))

    def network_create(self, principal: Principal, request: NetworkRequest) -> int:
        self.calls.append(("network_create", request))
        net_id = max(self.networks) + 1
        self.networks[net_id] = NetworkRecord(
            net_id,
            request.title or "net",
            "inactive",
            request.vlan,
            request.label,
            request.address,
            request.gateway,
            request.allocation,
        )
        return net_id

    def network_get(self, principal: Principal, net_id: int) -> NetworkRecord:
        if net_id not in self.networks:
            raise NotFound("network", net_id, listing="GET /occi/network/")
        return self.networks[net_id]

    def network_list(self, principal: Principal) -> Sequence[NetworkRecord]:
        return list(self.networks.values())

    def network_action(self, principal: Principal, net_id: int, *, up: bool) -> None:
        net = self.network_get(principal, net_id)
        self.networks[net_id] = replace(net, state="active" if up else "inactive")

    def network_delete(self, principal: Principal, net_id: int) -> None:
        del self.networks[self.network_get(principal, net_id).id]

    def storage_create(self, principal: Principal, title: str | None, size_gib: float) -> str:
        self.calls.append(("storage_create", title, size_gib))
        sid = str(len(self.storage) + 1)
        self.storage[sid] = StorageRecord(sid, title or f"vol-{sid}", size_gib)
        return sid

    def storage_get(self, principal: Principal, storage_id: str) -> StorageRecord:
        if storage_id not in self.storage:
            raise NotFound("storage", storage_id, listing="GET /occi/storage/")
        return self.storage[storage_id]

    def storage_list(self, principal: Principal) -> Sequence[StorageRecord]:
        return list(self.storage.values())

    def storage_action(self, principal: Principal, storage_id: str, *, online: bool) -> None:
        vol = self.storage_get(principal, storage_id)
        self.storage[storage_id] = replace(vol, state="online" if online else "offline")

    def storage_delete(self, principal: Principal, storage_id: str) -> None:
        del self.storage[self.storage_get(principal, storage_id).id]

    def link_create(
        self,
        principal: Principal,
        kind: str,
        compute_id: int,
        target_id: int | str,
        attributes: Mapping[str, Any],
    ) -> str:
        self.calls.append(("link_create", kind, compute_id, target_id, dict(attributes)))
        self.compute_get(principal, compute_id)
        if kind == "storagelink":
            self.storage_get(principal, str(target_id))
        else:
            self.network_get(principal, int(target_id))
        link_id = f"{compute_id}-{kind}-{target_id}"
        self.links[link_id] = LinkRecord(link_id, kind, compute_id, target_id, attributes)
        return link_id

    def link_list(
        self, principal: Principal, compute_id: int | None = None
    ) -> Sequence[LinkRecord]:
        return [r for r in self.links.values() if compute_id in (None, r.compute_id)]

    def link_delete(self, principal: Principal, link_id: str) -> None:
        del self.links[link_id]

    def user_mixins(self, principal: Principal) -> Sequence[UserMixin]:
        return list(self.mixins.values())

    def mixin_define(self, principal: Principal, mixin: UserMixin) -> UserMixin:
        self.mixins[mixin.type_id] = replace(mixin, owner=principal.user)
        return self.mixins[mixin.type_id]

    def mixin_remove(self, principal: Principal, type_id: str) -> None:
        if self.mixins.pop(type_id, None) is None:
            raise NotFound("user-defined mixin", type_id)

    def mixin_tag(
        self, principal: Principal, location: str, members: Sequence[str], mode: str
    ) -> None:
        mixin = next(u for u in self.mixins.values() if u.location == location)
        old = [] if mode == "replace" else mixin.members
        mixin.members = ([m for m in old if m not in members] if mode == "remove"
                         else list(dict.fromkeys([*old, *members])))


@pytest.fixture
def occi_backend() -> FakeOcciBackend:
    return FakeOcciBackend()


@pytest.fixture
def occi(occi_backend: FakeOcciBackend) -> TestClient:
    app = FastAPI()
    app.include_router(create_router(occi_backend))
    client = TestClient(app)
    client.auth = ("alice", "s3cr:t")  # HTTP Basic on every request, as OCCI clients send
    return client
