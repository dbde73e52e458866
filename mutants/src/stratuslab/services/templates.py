"""VM templates: store, show, list and delete named template texts (`one.template.*`).

What a template says is the front end's business (it parses and instantiates it through
ComputeService.run); this service only keeps them with their owner and checks who may see them:
the owner and admins.  The repository is the unit of work's "vm_templates" feature repository.
Imports core only.
"""

from __future__ import annotations

from typing import cast

from stratuslab.core.entities import Principal
from stratuslab.core.errors import InvalidInput, NotFound
from stratuslab.core.ports import Clock, UnitOfWork, UnitOfWorkFactory
from stratuslab.core.templates import VmTemplate, VmTemplateRepository

REPO = "vm_templates"
LISTING = "one.templatepool.info"
MAX_BODY = 64 * 1024


def _repo(uow: UnitOfWork) -> VmTemplateRepository:
    return cast(VmTemplateRepository, uow.repo(REPO))


class TemplateService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def create(self, principal: Principal, name: str, body: str) -> VmTemplate:
        if not name or len(name) > 128:
            raise InvalidInput(f"template name {name[:40]!r} must have 1 to 128 characters")
        if len(body) > MAX_BODY:
            raise InvalidInput(
                f"template {name} is {len(body)} bytes long; at most {MAX_BODY} are accepted"
            )
        group = principal.groups[0] if principal.groups else "users"
        template = VmTemplate(None, name, principal.user, group, body, self.clock.now())
        with self.uow() as uow:
            _repo(uow).add(template)
            uow.commit()
        return template

    def get(self, principal: Principal, template_id: int) -> VmTemplate:
        with self.uow(readonly=True) as uow:
            template = _repo(uow).get(template_id)
        if template is None or not (principal.is_admin or template.owner == principal.user):
            raise NotFound("VM template", template_id, LISTING)
        return template

    def list(self, principal: Principal) -> list[VmTemplate]:
        with self.uow(readonly=True) as uow:
            return _repo(uow).list(None if principal.is_admin else principal.user)

    def update(self, principal: Principal, template_id: int, body: str) -> VmTemplate:
        template = self.get(principal, template_id)
        template.body = body
        with self.uow() as uow:
            _repo(uow).update(template)
            uow.commit()
        return template

    def delete(self, principal: Principal, template_id: int) -> None:
        template = self.get(principal, template_id)
        with self.uow() as uow:
            _repo(uow).delete(template.id or 0)
            uow.commit()
