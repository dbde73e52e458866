"""FakeSystem: one host, VM templates in memory, ACL rules, one datastore (the SystemPort)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from tests.unit.api.xmlrpc.fakes.identity import NOW

from stratuslab.api.xmlrpc.backend import AclRecord, DatastoreRecord, HostRecord, TemplateRecord
from stratuslab.core.entities import Principal
from stratuslab.core.errors import NotFound


class FakeSystem:
    def __init__(self, calls: list[tuple[Any, ...]]) -> None:
        self.calls = calls
        self.templates: dict[int, TemplateRecord] = {}
        self.acls = {0: AclRecord(0, 0x100000001, 0x2000000000, 0x1, 0, "@1 VM/* USE *")}

    def host_list(self, principal: Principal) -> Sequence[HostRecord]:
        return [HostRecord(0, "node-1", total_cpu=200, total_mem_kib=4 << 20, vm_ids=(0,))]

    def host_allocate(self, principal: Principal, name: str, *, im_mad: str, vm_mad: str) -> int:
        self.calls.append(("host_allocate", name, im_mad, vm_mad))
        return 1

    def host_enable(self, principal: Principal, host_id: int, *, enabled: bool) -> None:
        self.calls.append(("host_enable", host_id, enabled))

    def host_offline(self, principal: Principal, host_id: int) -> None:
        self.calls.append(("host_offline", host_id))

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
