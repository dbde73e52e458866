"""VM templates: named, owned OpenNebula template texts that VMs are instantiated from
(`one.template.*`), and the repository port that stores them.

Only the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from stratuslab.core.errors import InvalidInput

#: the longest template text (a VM template, or the free-form TEMPLATE of a user, image, network
#: or host) the cloud keeps
MAX_TEMPLATE_TEXT = 64 * 1024


def checked_text(what: str, text: str) -> str:
    """`text` as the template of `what` (e.g. "image 4"), refused when too long."""
    if len(text) > MAX_TEMPLATE_TEXT:
        raise InvalidInput(f"the template of {what} would be {len(text)} bytes long; at most "
                           f"{MAX_TEMPLATE_TEXT} are accepted", hint="keep it shorter")
    return text


@dataclass(slots=True)
class VmTemplate:
    id: int | None
    name: str
    owner: str
    group: str
    body: str  # the template text, as the client gave it (normalised by the front end)
    created_at: datetime | None = None
    permissions: str = "um-------"  # owner/group/other rights (services.policy.Permissions)


class VmTemplateRepository(Protocol):
    def add(self, template: VmTemplate) -> VmTemplate: ...
    def get(self, template_id: int) -> VmTemplate | None: ...
    def list(self, owner: str | None = None) -> list[VmTemplate]: ...
    def update(self, template: VmTemplate) -> None: ...
    def delete(self, template_id: int) -> None: ...
