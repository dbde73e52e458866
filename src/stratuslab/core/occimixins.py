"""User-defined OCCI mixins ("tags", OCCI Core 1.2): what a user defines and tags resources with.

A mixin belongs to the user who defined it: its scheme+term and its location are unique among
that user's mixins only, and nobody else sees, uses or removes it.  Its members are resource
locations ("/compute/7"); the adapter checks that the owner may see each one before tagging.
Sizes are bounded (MAX_PER_USER mixins, MAX_MEMBERS members, MAX_TEXT characters a field).
Imports the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

MAX_PER_USER = 100
MAX_MEMBERS = 1000
MAX_TEXT = 255


@dataclass
class UserMixin:
    owner: str
    scheme: str
    term: str
    location: str  # "/my/" or "/my/tags/": one or two path segments, ending in "/"
    title: str = ""
    members: list[str] = field(default_factory=list)  # resource locations, e.g. "/compute/7"
    id: int | None = None

    @property
    def type_id(self) -> str:
        return self.scheme + self.term


class UserMixinRepository(Protocol):
    def add(self, mixin: UserMixin) -> UserMixin: ...
    def of_owner(self, owner: str) -> list[UserMixin]: ...
    def update(self, mixin: UserMixin) -> None: ...
    def delete(self, mixin_id: int) -> None: ...
