"""VM templates: named, owned OpenNebula template texts that VMs are instantiated from
(`one.template.*`), and the repository port that stores them.

Only the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(slots=True)
class VmTemplate:
    id: int | None
    name: str
    owner: str
    group: str
    body: str  # the template text, as the client gave it (normalised by the front end)
    created_at: datetime | None = None


class VmTemplateRepository(Protocol):
    def add(self, template: VmTemplate) -> VmTemplate: ...
    def get(self, template_id: int) -> VmTemplate | None: ...
    def list(self, owner: str | None = None) -> list[VmTemplate]: ...
    def update(self, template: VmTemplate) -> None: ...
    def delete(self, template_id: int) -> None: ...
