"""User-defined OCCI mixins (tags) per owner: define, remove, list, and tag resources.

Every mixin is its owner's: another user's request never finds it (NotFound, no existence
leak) and may define the same scheme+term or location for themselves.  The OCCI adapter checks
what only it knows (a location must not shadow one of the server's own collections; a member
must be a resource the owner may see); this service keeps the per-owner uniqueness and the size
bounds, in one transaction each.  Imports core only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import cast

from stratuslab.core.entities import Principal
from stratuslab.core.errors import Conflict, InvalidInput, NotFound, QuotaExceeded
from stratuslab.core.occimixins import (
    MAX_MEMBERS,
    MAX_PER_USER,
    MAX_TEXT,
    UserMixin,
    UserMixinRepository,
)
from stratuslab.core.ports import UnitOfWork, UnitOfWorkFactory

REPO = "occi_mixins"
LISTING = "GET /occi/-/"
_LOCATION = re.compile(r"^/[A-Za-z0-9._~-]{1,64}/([A-Za-z0-9._~-]{1,64}/)?$")


def _repo(uow: UnitOfWork) -> UserMixinRepository:
    return cast(UserMixinRepository, uow.repo(REPO))


def _find(mixins: Sequence[UserMixin], *, type_id: str = "", location: str = "") -> UserMixin:
    for mixin in mixins:
        if mixin.type_id == type_id or mixin.location == location:
            return mixin
    raise NotFound("user-defined mixin", type_id or location, listing=LISTING)


class OcciMixinService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self.uow = uow

    def list(self, principal: Principal) -> list[UserMixin]:
        with self.uow(readonly=True) as uow:
            return _repo(uow).of_owner(principal.user)

    def get(self, principal: Principal, location: str) -> UserMixin:
        return _find(self.list(principal), location=location)

    def define(self, principal: Principal, mixin: UserMixin) -> UserMixin:
        """Add `mixin` (owner set to the caller; members start empty).  Defining again exactly
        the same mixin is a no-op (idempotent); a clash with another of the caller's mixins is a
        Conflict."""
        for name in ("scheme", "term", "location", "title"):
            if len(getattr(mixin, name)) > MAX_TEXT:
                raise InvalidInput(f"the mixin's {name} is longer than {MAX_TEXT} characters")
        if not _LOCATION.match(mixin.location):
            raise InvalidInput(
                f"mixin location {mixin.location!r} is not a path of one or two segments",
                hint='give e.g. location="/my_tag/" (letters, digits, . _ ~ -)',
            )
        new = UserMixin(principal.user, mixin.scheme, mixin.term, mixin.location, mixin.title)
        with self.uow() as uow:
            repo = _repo(uow)
            mine = repo.of_owner(principal.user)
            for old in mine:
                same = (old.type_id, old.location, old.title) == (
                    new.type_id, new.location, new.title)
                if same:
                    return old
                if old.type_id == new.type_id or old.location == new.location:
                    raise Conflict(
                        f"you already have the mixin {old.type_id} at {old.location}",
                        hint="remove it first (DELETE /occi/-/ with its Category)",
                    )
            if len(mine) >= MAX_PER_USER:
                raise QuotaExceeded(f"a user may define at most {MAX_PER_USER} mixins",
                                    hint="remove mixins you no longer use")
            repo.add(new)
            uow.commit()
        return new

    def remove(self, principal: Principal, type_id: str) -> None:
        with self.uow() as uow:
            repo = _repo(uow)
            mixin = _find(repo.of_owner(principal.user), type_id=type_id)
            assert mixin.id is not None
            repo.delete(mixin.id)
            uow.commit()

    def tag(self, principal: Principal, location: str, members: Sequence[str], *,
            mode: str) -> None:
        """Change a mixin's members: mode "add" (POST), "replace" (PUT) or "remove" (DELETE)."""
        with self.uow() as uow:
            repo = _repo(uow)
            mixin = _find(repo.of_owner(principal.user), location=location)
            if mode == "replace":
                kept = list(dict.fromkeys(members))
            elif mode == "add":
                kept = list(dict.fromkeys([*mixin.members, *members]))
            else:
                kept = [m for m in mixin.members if m not in set(members)]
            if len(kept) > MAX_MEMBERS:
                raise QuotaExceeded(f"a mixin may tag at most {MAX_MEMBERS} resources")
            mixin.members = kept
            repo.update(mixin)
            uow.commit()
