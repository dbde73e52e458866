"""Hosts, VM templates, ACLs and datastores (the SystemPort).

Hosts are the compute nodes of the server's configuration (ids: their order there); VM
templates are the TemplateService's; ACLs are the fixed policy rendered as rules; the one
datastore is the image store.  Translation only; imports core, services and this package.
"""

from __future__ import annotations

from collections.abc import Sequence

from stratuslab.api.xmlrpc.acl import FIXED_HINT, FIXED_POLICY, acl_rules
from stratuslab.api.xmlrpc.backend import (
    AclRecord,
    DatastoreRecord,
    HostRecord,
    Rights,
    TemplateRecord,
    merged_rights,
)
from stratuslab.api.xmlrpc.services.common import ALL, LOOKUP, Deps, host_name, owner_names
from stratuslab.api.xmlrpc.template import parse
from stratuslab.core.entities import Principal, Role
from stratuslab.core.errors import InvalidInput
from stratuslab.core.hosts import HostState
from stratuslab.core.ports import Page
from stratuslab.core.states import VmState
from stratuslab.core.templates import VmTemplate
from stratuslab.services.hosts import USER_TEMPLATE
from stratuslab.services.identity import require_admin


def _record(t: VmTemplate) -> TemplateRecord:
    return TemplateRecord(t.id or 0, t.name, t.owner, t.group, t.body, t.created_at,
                          t.permissions)


class SystemCalls:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    # ---- hosts: the compute nodes ----------------------------------------------------------
    def host_list(self, principal: Principal) -> Sequence[HostRecord]:
        vms, _ = self.deps.compute.list(principal, page=Page(0, ALL))
        given = {h.name: str(h.attributes.get(USER_TEMPLATE) or "") for h in self.deps.hosts.list()}
        hosts = []
        for index, name in enumerate(self.deps.compute.placement.names()):
            node = self.deps.compute.nodes[name]
            here = [vm for vm in vms if vm.host == name]
            real = node.hypervisor.capabilities.real_guests
            total_cpu, total_mem_kib = self.deps.host_capacity(name)
            hosts.append(
                HostRecord(
                    id=index,
                    name=name,
                    vm_mad="qemu" if real else "simulated",
                    state=self.deps.compute.placement.one_state(name),
                    total_cpu=total_cpu,
                    total_mem_kib=total_mem_kib,
                    used_cpu=100 * sum(vm.vcpu for vm in here),
                    used_mem_kib=1024 * sum(vm.memory_mib for vm in here),
                    running_vms=sum(vm.vm_state is VmState.RUNNING for vm in here),
                    vm_ids=tuple(vm.id for vm in here if vm.id is not None),
                    attrs={k: v for k, v in parse(given.get(name, "")).items
                           if isinstance(v, str)},
                )
            )
        return hosts

    def host_allocate(self, principal: Principal, name: str, *, im_mad: str, vm_mad: str) -> int:
        raise InvalidInput(
            f"cannot add host {name}: hosts come from the server's configuration",
            hint="configure the node in the server settings and restart it",
        )

    def host_enable(self, principal: Principal, host_id: int, *, enabled: bool) -> None:
        self.deps.compute.set_host_enabled(
            principal, host_name(self.deps.compute, host_id), enabled
        )

    def host_offline(self, principal: Principal, host_id: int) -> None:
        require_admin(principal, "taking a host offline")
        name = host_name(self.deps.compute, host_id)
        self.deps.compute.placement.set_state(name, HostState.OFFLINE)

    def host_update(self, principal: Principal, host_id: int, text: str) -> None:
        self.deps.hosts.update_template(principal, host_name(self.deps.compute, host_id), text)

    def host_delete(self, principal: Principal, host_id: int) -> None:
        name = host_name(self.deps.compute, host_id)
        raise InvalidInput(
            f"cannot remove host {name}: hosts come from the server's configuration",
            hint="disable it instead (one.host.enable ID false)",
        )

    # ---- VM templates --------------------------------------------------------------------
    def template_allocate(self, principal: Principal, name: str, body: str) -> int:
        return self.deps.templates.create(principal, name, body).id or 0

    def template_get(self, principal: Principal, template_id: int) -> TemplateRecord:
        t = self.deps.templates.get(principal, template_id)
        return _record(t)

    def template_list(self, principal: Principal) -> Sequence[TemplateRecord]:
        return [
            _record(t)
            for t in self.deps.templates.list(principal)
        ]

    def template_update(self, principal: Principal, template_id: int, body: str) -> None:
        self.deps.templates.update(principal, template_id, body)

    def template_delete(self, principal: Principal, template_id: int) -> None:
        self.deps.templates.delete(principal, template_id)

    def template_rename(self, principal: Principal, template_id: int, name: str) -> None:
        self.deps.templates.rename(principal, template_id, name)

    def template_chmod(self, principal: Principal, template_id: int, rights: Rights) -> None:
        current = self.deps.templates.get(principal, template_id).permissions
        self.deps.templates.chmod(principal, template_id, merged_rights(current, rights))

    def template_chown(
        self, principal: Principal, template_id: int, user_id: int, group_id: int
    ) -> None:
        owner, group = owner_names(self.deps, user_id, group_id)
        self.deps.templates.chown(principal, template_id, owner=owner, group=group)

    # ---- ACLs, datastores ----------------------------------------------------------------
    def acl_list(self, principal: Principal) -> Sequence[AclRecord]:
        require_admin(principal, "read the ACL rules")
        groups = self.deps.identity.list_groups(LOOKUP)
        return acl_rules(
            next((g.id or 0 for g in groups if g.name == "users"), -1),
            [
                u.id
                for u in self.deps.identity.list_users(LOOKUP)
                if u.id is not None and Role.ADMIN.value in u.roles
            ],
        )

    def acl_add(self, principal: Principal, user: int, resource: int, rights: int) -> int:
        raise InvalidInput(FIXED_POLICY, hint=FIXED_HINT)

    def acl_delete(self, principal: Principal, rule_id: int) -> None:
        raise InvalidInput(FIXED_POLICY, hint=FIXED_HINT)

    def datastore_list(self, principal: Principal) -> Sequence[DatastoreRecord]:
        images = self.deps.images.list(principal)
        used = sum(i.size_bytes for i in images) // (1024 * 1024)
        ids = tuple(i.id for i in images if i.id is not None)
        return [DatastoreRecord(1, "default", used_mb=used, image_ids=ids)]
