"""VM templates: store, show, list, change and delete named template texts (`one.template.*`).

What a template says is the front end's business (it parses and instantiates it through
ComputeService.run); this service keeps them with their owner, group and owner/group/other
rights (services.policy), and checks who may see, change, share or give them away.  The
repository is the unit of work's "vm_templates" feature repository.  Imports core and
services.policy only.
"""

from __future__ import annotations

from typing import cast

from stratuslab.core.entities import Principal
from stratuslab.core.errors import InvalidInput, NotFound
from stratuslab.core.ports import Clock, UnitOfWork, UnitOfWorkFactory
from stratuslab.core.templates import VmTemplate, VmTemplateRepository, checked_text
from stratuslab.services.policy import (
    Permissions,
    Right,
    authorize,
    check_chown,
    checked_permissions,
    rights_of,
)

REPO = "vm_templates"
LISTING = "one.templatepool.info"


def _repo(uow: UnitOfWork) -> VmTemplateRepository:
    return cast(VmTemplateRepository, uow.repo(REPO))


def _check_name(name: str) -> None:
    if not name or len(name) > 128:
        raise InvalidInput(f"template name {name[:40]!r} must have 1 to 128 characters")


class TemplateService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def create(self, principal: Principal, name: str, body: str) -> VmTemplate:
        _check_name(name)
        checked_text(f"VM template {name}", body)
        group = principal.groups[0] if principal.groups else "users"
        template = VmTemplate(None, name, principal.user, group, body, self.clock.now())
        with self.uow() as uow:
            _repo(uow).add(template)
            uow.commit()
        return template

    def get(self, principal: Principal, template_id: int, *, action: str = "read") -> VmTemplate:
        with self.uow(readonly=True) as uow:
            template = _repo(uow).get(template_id)
        if template is None:
            raise NotFound("VM template", template_id, LISTING)
        authorize(principal, action, template.owner, template.group, template.permissions,
                  what="VM template", ident=template_id, listing=LISTING)
        return template

    def list(self, principal: Principal) -> list[VmTemplate]:
        """The templates the caller may use: their own and those shared with them."""
        with self.uow(readonly=True) as uow:
            every = _repo(uow).list(None)
        return [t for t in every if Right.USE in rights_of(principal, t.owner, t.group,
                                                           Permissions.parse(t.permissions))]

    def update(self, principal: Principal, template_id: int, body: str) -> VmTemplate:
        checked_text(f"VM template {template_id}", body)
        template = self.get(principal, template_id, action="update")
        template.body = body
        return self._save(template)

    def rename(self, principal: Principal, template_id: int, name: str) -> VmTemplate:
        _check_name(name)
        template = self.get(principal, template_id, action="update")
        template.name = name
        return self._save(template)

    def chmod(self, principal: Principal, template_id: int, permissions: str) -> VmTemplate:
        """Share with the group or everyone (MANAGE; the admin right only from admins)."""
        template = self.get(principal, template_id, action="manage")
        template.permissions = checked_permissions(principal, permissions,
                                                   what=f"VM template {template_id}")
        return self._save(template)

    def chown(self, principal: Principal, template_id: int, *, owner: str | None,
              group: str | None) -> VmTemplate:
        """Give to another user (administrators) and/or group (the owner, to a group of theirs)."""
        template = self.get(principal, template_id, action="manage")
        check_chown(principal, what=f"VM template {template_id}", owner=owner, group=group,
                    current_owner=template.owner)
        template.owner = owner or template.owner
        template.group = group or template.group
        return self._save(template)

    def delete(self, principal: Principal, template_id: int) -> None:
        template = self.get(principal, template_id, action="delete")
        with self.uow() as uow:
            _repo(uow).delete(template.id or 0)
            uow.commit()

    def _save(self, template: VmTemplate) -> VmTemplate:
        with self.uow() as uow:
            _repo(uow).update(template)
            uow.commit()
        return template
