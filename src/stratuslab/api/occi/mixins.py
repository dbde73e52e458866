"""User-defined mixins (OCCI Core 1.2 "tags") over the backend: define one with POST /-/,
remove it with DELETE /-/, tag resources with POST (add), PUT (replace) or DELETE (untag) on the
mixin's location carrying X-OCCI-Location lines, and GET that location for the tagged resources.

Each user's mixins are theirs (the backend keeps them per owner); this module checks what only
the adapter knows: a definition must not reuse a category or a location of the server, and a
resource is tagged only if the caller may see it.  Imports only core and this package.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from stratuslab.api.occi import convert
from stratuslab.api.occi import model as m
from stratuslab.api.occi import resources as ops
from stratuslab.api.occi.textfmt import Header, OcciError, bad, parse_category
from stratuslab.core.errors import CloudError, Conflict, ErrorKind
from stratuslab.core.occimixins import UserMixin

#: first path segments a user's mixin location may not take (the server's own collections)
RESERVED = frozenset({"-", ".well-known", "link", "os_tpl", "resource_tpl",
                      *ops.KIND_COLLECTIONS})
MAX_LINES = 100


def _mixin_lines(lines: Sequence[Header]) -> list[Header]:
    found = [(n, v) for n, v in lines if n == "Category"]
    if not found:
        raise bad("the request carries no mixin Category; send e.g. Category: my_tag; "
                  'scheme="http://example.org/tags#"; class="mixin"; location="/my_tag/"')
    if len(found) > MAX_LINES:
        raise bad(f"at most {MAX_LINES} Categories a request")
    return found


def define(call: ops.Call, lines: Sequence[Header]) -> list[m.Category]:
    """POST /-/: every mixin Category given (with a location) becomes one of the caller's."""
    server = m.Registry(convert.template_mixins(call.images, call.types))
    made = []
    for _, value in _mixin_lines(lines):
        ref = parse_category(value)
        location = ref.params.get("location", "")
        if ref.cls != "mixin":
            raise bad(f"{ref.term}: only mixins can be defined (class=\"mixin\")")
        if not location:
            raise bad(f'mixin {ref.term} needs a location, e.g. location="/{ref.term}/"')
        if server.get(ref.type_id) is not None:
            raise Conflict(f"{ref.type_id} is a category of this server",
                           hint="choose your own scheme, e.g. http://example.org/tags#")
        if location.strip("/").split("/")[0] in RESERVED or server.by_location(location):
            raise Conflict(f"the location {location} belongs to this server",
                           hint='choose another location, e.g. "/tags/mine/"')
        mixin = UserMixin("", ref.scheme, ref.term, location, ref.params.get("title", ""))
        made.append(convert.user_mixin(call.backend.mixin_define(call.principal, mixin)))
    return made


def remove(call: ops.Call, lines: Sequence[Header]) -> None:
    """DELETE /-/: the caller's mixins named by the Categories go (with their tags)."""
    for _, value in _mixin_lines(lines):
        ref = parse_category(value)
        call.backend.mixin_remove(call.principal, ref.type_id)


def _own(call: ops.Call, location: str) -> UserMixin:
    for mixin in call.user_mixins:
        if mixin.location == location:
            return mixin
    raise OcciError(404, f"{location} is not a collection of this server")


def is_user_location(call: ops.Call, location: str) -> bool:
    return any(mixin.location == location for mixin in call.user_mixins)


def _split(location: str) -> tuple[str, str]:
    parts = location.strip("/").split("/")
    if len(parts) != 2 or parts[0] not in ops.KIND_COLLECTIONS:
        raise bad(f"{location} is not a resource location (e.g. /compute/7)")
    return parts[0], parts[1]


def members(call: ops.Call, location: str) -> list[m.Entity]:
    """GET on a user mixin's location: the tagged resources the caller still sees."""
    found = []
    for member in _own(call, location).members:
        try:
            found.append(ops.get_one(call, *_split(member)))
        except (OcciError, CloudError) as exc:
            if isinstance(exc, CloudError) and exc.kind is not ErrorKind.NOT_FOUND:
                raise
    return found


def tag(call: ops.Call, location: str, lines: Sequence[Header], prefix: str, mode: str) -> None:
    """POST (add), PUT (replace) or DELETE (remove) X-OCCI-Location members of a user mixin."""
    _own(call, location)
    given = [v for n, v in lines if n == "X-OCCI-Location"]
    if len(given) > MAX_LINES:
        raise bad(f"at most {MAX_LINES} X-OCCI-Location lines a request")
    if not given and mode != "replace":
        raise bad("the request names no resource; send X-OCCI-Location: /occi/compute/<id>")
    wanted = []
    for value in given:
        path = urlsplit(value.strip()).path
        path = path.removeprefix(prefix) if path.startswith(prefix + "/") else path
        collection, ident = _split(path)
        if mode != "remove":
            ops.get_one(call, collection, ident)  # 404 unless the caller may see it
        wanted.append(f"/{collection}/{ident}")
    call.backend.mixin_tag(call.principal, location, wanted, mode)
