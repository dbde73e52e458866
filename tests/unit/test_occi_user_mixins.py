"""OcciMixinService over the real database: per-owner uniqueness, idempotent definition,
bounds, and another owner's mixins out of reach."""

from __future__ import annotations

import pytest

from stratuslab.bootstrap import Cloud
from stratuslab.core.entities import Principal
from stratuslab.core.errors import Conflict, InvalidInput, NotFound, QuotaExceeded
from stratuslab.core.occimixins import MAX_MEMBERS, MAX_PER_USER, UserMixin

SCHEME = "http://example.org/tags#"
BOB = Principal("bob", 99)


def mixin(term: str, location: str | None = None) -> UserMixin:
    return UserMixin("ignored", SCHEME, term, location or f"/{term}/")


def test_defining_the_same_mixin_twice_is_one_mixin(cloud: Cloud, admin: Principal) -> None:
    tags = cloud.services.occi_mixins
    first = tags.define(admin, mixin("web"))
    assert tags.define(admin, mixin("web")).id == first.id and first.owner == admin.user
    with pytest.raises(Conflict):
        tags.define(admin, mixin("web", "/other/"))  # same scheme+term, another location
    with pytest.raises(Conflict):
        tags.define(admin, mixin("db", "/web/"))  # another mixin at the same location


def test_an_owner_reaches_only_their_own_mixins(cloud: Cloud, admin: Principal) -> None:
    tags = cloud.services.occi_mixins
    tags.define(admin, mixin("web"))
    tags.tag(admin, "/web/", ["/compute/1"], mode="add")
    assert tags.list(BOB) == []
    with pytest.raises(NotFound):
        tags.remove(BOB, SCHEME + "web")
    with pytest.raises(NotFound):
        tags.tag(BOB, "/web/", ["/compute/2"], mode="replace")
    tags.define(BOB, mixin("web"))  # his own, same name and location
    assert tags.get(BOB, "/web/").members == [] and tags.get(admin, "/web/").members == [
        "/compute/1"]
    tags.remove(admin, SCHEME + "web")
    assert [m.owner for m in tags.list(BOB)] == ["bob"]


def test_tagging_adds_replaces_and_removes(cloud: Cloud, admin: Principal) -> None:
    tags = cloud.services.occi_mixins
    tags.define(admin, mixin("web"))
    tags.tag(admin, "/web/", ["/compute/1", "/compute/1", "/storage/x"], mode="add")
    tags.tag(admin, "/web/", ["/network/3"], mode="add")
    assert tags.get(admin, "/web/").members == ["/compute/1", "/storage/x", "/network/3"]
    tags.tag(admin, "/web/", ["/storage/x"], mode="remove")
    tags.tag(admin, "/web/", ["/compute/9"] + tags.get(admin, "/web/").members, mode="replace")
    assert tags.get(admin, "/web/").members == ["/compute/9", "/compute/1", "/network/3"]


def test_sizes_are_bounded(cloud: Cloud, admin: Principal) -> None:
    tags = cloud.services.occi_mixins
    with pytest.raises(InvalidInput):
        tags.define(admin, mixin("t" * 300))
    with pytest.raises(InvalidInput):
        tags.define(admin, mixin("bad", "/a/b/c/"))
    for n in range(MAX_PER_USER):
        tags.define(admin, mixin(f"t{n}"))
    with pytest.raises(QuotaExceeded):
        tags.define(admin, mixin("one_more"))
    with pytest.raises(QuotaExceeded):
        tags.tag(admin, "/t0/", [f"/compute/{n}" for n in range(MAX_MEMBERS + 1)], mode="add")
    assert tags.get(admin, "/t0/").members == []  # nothing half-made
