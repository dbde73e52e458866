"""FakeBackend (an in-memory XmlRpcBackend that records what it receives) and clients over
FastAPI's TestClient: stdlib xmlrpc.client and pyone, both through a TestClient transport."""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pyone
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from stratuslab.api.xmlrpc import create_router
from stratuslab.api.xmlrpc.backend import (
    AclRecord,
    AddressRange,
    DatastoreRecord,
    DiskRequest,
    HostRecord,
    ImageAllocate,
    NetworkAllocate,
    NetworkRecord,
    NicRequest,
    Reservation,
    TemplateRecord,
    UserTemplate,
    VmQuery,
    VmRequest,
)
from stratuslab.core.auth import Credentials
from stratuslab.core.entities import Group, Image, Principal, Role, User, Vm
from stratuslab.core.errors import AuthenticationFailed, InvalidState, NotFound
from stratuslab.core.states import VmAction, VmState, allowed_from, next_state, step_done

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class FakeBackend:
    """In-memory services; every call is appended to `calls` as (method, args...)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.groups = {0: Group(0, "oneadmin", NOW), 1: Group(1, "users", NOW)}
        self.users = {
            0: User(0, "oneadmin", "secret", ["oneadmin"], [Role.ADMIN.value], created_at=NOW),
            5: User(5, "alice", "s3cr:t", ["users"], created_at=NOW),
        }
        self.images = {
            3: Image(
                3,
                "ttylinux",
                "alice",
                "users",
                "/var/lib/stratuslab/images/3.qcow2",
                "qcow2",
                40 << 20,
                "a" * 40,
                public=True,
                created_at=NOW,
            ),
        }
        self.vms: dict[int, Vm] = {}
        self.templates: dict[int, TemplateRecord] = {}
        self.acls = {0: AclRecord(0, 0x100000001, 0x2000000000, 0x1, 0, "@1 VM/* USE *")}
        self.networks = {
            0: NetworkRecord.from_mapping(
                {
                    "id": 0,
                    "name": "public",
                    "owner": "oneadmin",
                    "group": "oneadmin",
                    "bridge": "br-public",
                    "address_ranges": [{"type": "IP4", "ip": "10.1.0.2", "size": 200}],
                }
            )
        }

    # ---- identity --------------------------------------------------------------------
    def authenticate(self, credentials: Credentials) -> Principal:
        self.calls.append(("authenticate", credentials))
        for user in self.users.values():
            if user.name == credentials.username and user.password_hash == credentials.password:
                assert user.id is not None
                return Principal(user.name, user.id, tuple(user.groups), frozenset(user.roles))
        raise AuthenticationFailed()

    def user_id(self, name: str) -> int:
        return next((i for i, u in self.users.items() if u.name == name), -1)

    def group_id(self, name: str) -> int:
        return next((i for i, g in self.groups.items() if g.name == name), -1)

    # ---- VMs -------------------------------------------------------------------------
    def vm_allocate(self, principal: Principal, request: VmRequest, *, hold: bool) -> int:
        self.calls.append(("vm_allocate", request, hold))
        image_id = request.disks[0].image_id
        if image_id not in self.images:
            raise NotFound("image", image_id, listing="one.imagepool.info")
        for nic in request.nics:
            if nic.network not in (None, "public") or nic.network_id not in (None, 0):
                raise NotFound("network", nic.network or nic.network_id, "one.vnpool.info")
        vm_id = max(self.vms, default=-1) + 1
        self.vms[vm_id] = Vm(
            vm_id,
            request.name or f"one-{vm_id}",
            principal.user,
            principal.groups[0],
            (VmState.HOLD if hold else VmState.PENDING).value,
            image_id,
            request.instance_type or "m1.small",
            request.vcpu or 1,
            request.memory_mib or 512,
            spec={"context": dict(request.context)},
            created_at=NOW,
            updated_at=NOW,
        )
        return vm_id

    def boot(self, vm_id: int) -> None:
        """Test helper: what the job runner would do to a pending VM."""
        vm = self.vms[vm_id]
        self.vms[vm_id] = replace(
            vm, state="running", host="node-1", ip="10.1.0.7", mac="02:00:0a:01:00:07"
        )

    def vm_get(self, principal: Principal, vm_id: int) -> Vm:
        if vm_id not in self.vms:
            raise NotFound("VM", vm_id)
        return self.vms[vm_id]

    def vm_list(self, principal: Principal, query: VmQuery) -> Sequence[Vm]:
        self.calls.append(("vm_list", query))
        vms = [v for v in self.vms.values() if query.states is None or v.vm_state in query.states]
        if query.owner == "mine":
            vms = [v for v in vms if v.owner == principal.user]
        return vms[query.offset : None if query.limit is None else query.offset + query.limit]

    def vm_action(self, principal: Principal, vm_id: int, action: VmAction) -> None:
        self.calls.append(("vm_action", vm_id, action))
        vm = self.vm_get(principal, vm_id)
        new = next_state(vm.vm_state, action)
        if new is None:
            raise InvalidState(
                what="VM",
                name=vm_id,
                state=vm.state,
                action=action.value,
                allowed=", ".join(allowed_from(action)),
            )
        while new in (
            VmState.SHUTDOWN,
            VmState.POWEROFF_PENDING,
            VmState.EPILOG,
            VmState.BOOT,
            VmState.SAVE,
            VmState.RESTORE,
            VmState.REBOOT,
        ):
            new = step_done(new, action)  # the fake runs jobs instantly
        self.vms[vm_id] = replace(vm, state=new.value, last_action=action.value)

    def vm_rename(self, principal: Principal, vm_id: int, name: str) -> None:
        self.vms[vm_id] = replace(self.vm_get(principal, vm_id), name=name)

    # ---- images, users, groups ------------------------------------------------------
    def image_get(self, principal: Principal, image_id: int) -> Image:
        if image_id not in self.images:
            raise NotFound("image", image_id)
        return self.images[image_id]

    def image_list(self, principal: Principal) -> Sequence[Image]:
        return list(self.images.values())

    def user_get(self, principal: Principal, user_id: int) -> User:
        user_id = principal.user_id if user_id == -1 else user_id
        if user_id not in self.users:
            raise NotFound("user", user_id)
        return self.users[user_id]

    def user_list(self, principal: Principal) -> Sequence[User]:
        return list(self.users.values())

    def user_allocate(
        self, principal: Principal, name: str, password: str, *, driver: str, groups: Sequence[int]
    ) -> int:
        self.calls.append(("user_allocate", name, password, driver, list(groups)))
        user_id = max(self.users) + 1
        names = [self.groups[g].name for g in groups] or ["users"]
        self.users[user_id] = User(user_id, name, password, names, created_at=NOW)
        return user_id

    def user_passwd(self, principal: Principal, user_id: int, password: str) -> None:
        self.users[user_id] = replace(self.user_get(principal, user_id), password_hash=password)

    def user_chgrp(self, principal: Principal, user_id: int, group_id: int) -> None:
        user = self.user_get(principal, user_id)
        self.users[user_id] = replace(user, groups=[self.groups[group_id].name])

    def user_delete(self, principal: Principal, user_id: int) -> None:
        self.user_get(principal, user_id)
        del self.users[user_id]

    def group_get(self, principal: Principal, group_id: int) -> Group:
        if group_id not in self.groups:
            raise NotFound("group", group_id)
        return self.groups[group_id]

    def group_list(self, principal: Principal) -> Sequence[Group]:
        return list(self.groups.values())

    def group_allocate(self, principal: Principal, name: str) -> int:
        group_id = max(self.groups) + 1
        self.groups[group_id] = Group(group_id, name, NOW)
        return group_id

    def group_delete(self, principal: Principal, group_id: int) -> None:
        del self.groups[self.group_get(principal, group_id).id or 0]

    # ---- the rest ------------------------------------------------------------------
    def host_list(self, principal: Principal) -> Sequence[HostRecord]:
        return [HostRecord(0, "node-1", total_cpu=200, total_mem_kib=4 << 20, vm_ids=(0,))]

    def network_list(self, principal: Principal) -> Sequence[NetworkRecord]:
        return list(self.networks.values())

    def _net(self, net_id: int) -> NetworkRecord:
        if net_id not in self.networks:
            raise NotFound("virtual network", net_id, listing="one.vnpool.info")
        return self.networks[net_id]

    def network_allocate(self, principal: Principal, request: NetworkAllocate) -> int:
        self.calls.append(("network_allocate", request))
        net_id = max(self.networks) + 1
        ranges = tuple({"type": r.type, "ip": r.ip, "size": r.size} for r in request.ranges)
        self.networks[net_id] = NetworkRecord(
            net_id,
            request.name,
            principal.user,
            principal.groups[0],
            request.bridge or "",
            address_ranges=ranges,
        )
        return net_id

    def network_delete(self, principal: Principal, net_id: int) -> None:
        del self.networks[self._net(net_id).id]

    def network_add_range(self, principal: Principal, net_id: int, ar: AddressRange) -> None:
        self.calls.append(("network_add_range", net_id, ar))
        net = self._net(net_id)
        ranges = (*net.address_ranges, {"type": ar.type, "ip": ar.ip, "size": ar.size})
        self.networks[net_id] = replace(net, address_ranges=ranges)

    def network_update_range(self, principal: Principal, net_id: int, ar: AddressRange) -> None:
        self.calls.append(("network_update_range", net_id, ar))

    def network_rm_range(self, principal: Principal, net_id: int, ar_id: int) -> None:
        net = self._net(net_id)
        ranges = tuple(r for i, r in enumerate(net.address_ranges) if i != ar_id)
        self.networks[net_id] = replace(net, address_ranges=ranges)

    def network_hold(self, principal: Principal, net_id: int, address: str) -> None:
        self._net(net_id)
        self.calls.append(("network_hold", net_id, address))

    def network_release(self, principal: Principal, net_id: int, address: str) -> None:
        self.calls.append(("network_release", net_id, address))

    def network_remove_lease(self, principal: Principal, net_id: int, address: str) -> None:
        self.calls.append(("network_remove_lease", net_id, address))

    def network_reserve(self, principal: Principal, net_id: int, reservation: Reservation) -> int:
        self.calls.append(("network_reserve", net_id, reservation))
        parent = self._net(net_id)
        new_id = max(self.networks) + 1
        self.networks[new_id] = replace(
            parent, id=new_id, name=reservation.name or "reservation", used_leases=0
        )
        return new_id

    # ---- VM devices, images, hosts (recorded only) ---------------------------------------
    def vm_update(
        self, principal: Principal, vm_id: int, user_template: UserTemplate, *, merge: bool
    ) -> None:
        self.calls.append(("vm_update", vm_id, user_template, merge))

    def vm_attach_disk(self, principal: Principal, vm_id: int, disk: DiskRequest) -> None:
        self.calls.append(("vm_attach_disk", vm_id, disk))

    def vm_detach_disk(self, principal: Principal, vm_id: int, disk_id: int) -> None:
        self.calls.append(("vm_detach_disk", vm_id, disk_id))

    def vm_attach_nic(self, principal: Principal, vm_id: int, nic: NicRequest) -> None:
        self._net(nic.network_id if nic.network_id is not None else -1)
        self.calls.append(("vm_attach_nic", vm_id, nic))

    def vm_detach_nic(self, principal: Principal, vm_id: int, nic_id: int) -> None:
        self.calls.append(("vm_detach_nic", vm_id, nic_id))

    def vm_deploy(self, principal: Principal, vm_id: int, host_id: int) -> None:
        self.calls.append(("vm_deploy", vm_id, host_id))

    def vm_migrate(self, principal: Principal, vm_id: int, host_id: int, *, live: bool) -> None:
        raise NotImplementedError  # what a service that cannot migrate yet does

    def vm_chown(self, principal: Principal, vm_id: int, user_id: int, group_id: int) -> None:
        self.calls.append(("vm_chown", vm_id, user_id, group_id))

    def image_allocate(self, principal: Principal, request: ImageAllocate) -> int:
        self.calls.append(("image_allocate", request))
        return 4

    def image_delete(self, principal: Principal, image_id: int) -> None:
        self.calls.append(("image_delete", image_id))

    def image_enable(self, principal: Principal, image_id: int, *, enabled: bool) -> None:
        self.calls.append(("image_enable", image_id, enabled))

    def image_persistent(self, principal: Principal, image_id: int, *, persistent: bool) -> None:
        self.calls.append(("image_persistent", image_id, persistent))

    def image_chtype(self, principal: Principal, image_id: int, image_type: str) -> None:
        self.calls.append(("image_chtype", image_id, image_type))

    def host_allocate(self, principal: Principal, name: str, *, im_mad: str, vm_mad: str) -> int:
        self.calls.append(("host_allocate", name, im_mad, vm_mad))
        return 1

    def host_enable(self, principal: Principal, host_id: int, *, enabled: bool) -> None:
        self.calls.append(("host_enable", host_id, enabled))

    def host_delete(self, principal: Principal, host_id: int) -> None:
        self.calls.append(("host_delete", host_id))

    def template_allocate(self, principal: Principal, name: str, body: str) -> int:
        template_id = max(self.templates, default=-1) + 1
        self.templates[template_id] = TemplateRecord(
            template_id, name, principal.user, principal.groups[0], body, NOW
        )
        return template_id

    def template_get(self, principal: Principal, template_id: int) -> TemplateRecord:
        if template_id not in self.templates:
            raise NotFound("template", template_id)
        return self.templates[template_id]

    def template_list(self, principal: Principal) -> Sequence[TemplateRecord]:
        return list(self.templates.values())

    def template_update(self, principal: Principal, template_id: int, body: str) -> None:
        self.templates[template_id] = replace(self.template_get(principal, template_id), body=body)

    def template_delete(self, principal: Principal, template_id: int) -> None:
        del self.templates[self.template_get(principal, template_id).id]

    def acl_list(self, principal: Principal) -> Sequence[AclRecord]:
        return list(self.acls.values())

    def acl_add(self, principal: Principal, user: int, resource: int, rights: int) -> int:
        self.calls.append(("acl_add", user, resource, rights))
        rule_id = max(self.acls) + 1
        self.acls[rule_id] = AclRecord(rule_id, user, resource, rights)
        return rule_id

    def acl_delete(self, principal: Principal, rule_id: int) -> None:
        del self.acls[rule_id]

    def datastore_list(self, principal: Principal) -> Sequence[DatastoreRecord]:
        return [
            DatastoreRecord(1, "default", total_mb=1000, free_mb=900, used_mb=100, image_ids=(3,))
        ]


class ClientTransport(xmlrpc.client.Transport):
    """xmlrpc.client transport that posts through a Starlette TestClient."""

    def __init__(self, client: TestClient, headers: dict[str, str] | None = None):
        super().__init__(use_builtin_types=True)
        self.client = client
        self.headers = headers or {}
        self.last_status = 0

    def request(self, host: Any, handler: Any, request_body: Any, verbose: bool = False) -> Any:
        response = self.client.post(
            handler, content=request_body, headers={"Content-Type": "text/xml", **self.headers}
        )
        self.last_status = response.status_code
        assert response.status_code == 200, response.text
        params, _ = xmlrpc.client.loads(response.content, use_builtin_types=True)
        return params


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def client(backend: FakeBackend) -> TestClient:
    app = FastAPI()
    app.include_router(create_router(backend, version="3.2.0"))
    return TestClient(app)


@pytest.fixture
def rpc(client: TestClient) -> xmlrpc.client.ServerProxy:
    transport = ClientTransport(client)
    return xmlrpc.client.ServerProxy("http://testserver/RPC2", transport=transport)


@pytest.fixture
def one(client: TestClient) -> Any:
    server = pyone.OneServer("http://testserver/RPC2", session="oneadmin:secret")
    server._ServerProxy__transport = ClientTransport(client)  # pyone's requests transport
    return server
