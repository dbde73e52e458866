"""XML-RPC methods for users, groups, images, hosts, ACLs and datastores.

Each handler decodes arguments, calls the backend and renders the answer; no business logic.
Imports only core and this package.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from stratuslab.api.xmlrpc import render_legacy as legacy
from stratuslab.api.xmlrpc import render_pools as r
from stratuslab.api.xmlrpc import requests, template
from stratuslab.api.xmlrpc.dispatch import Ctx, Method, Param
from stratuslab.core.entities import Group, User
from stratuslab.core.errors import InvalidInput, NotFound

T = TypeVar("T")


def _find(items: Sequence[T], wanted: int, key: Callable[[T], int | None], what: str) -> T:
    for item in items:
        if key(item) == wanted:
            return item
    raise NotFound(what, wanted, listing=f"one.{what}pool.info")


def _members(users: Sequence[User], group: Group) -> list[int]:
    return [u.id for u in users if u.id is not None and group.name in u.groups]


# ---- users and groups -------------------------------------------------------------------


def user_allocate(ctx: Ctx, name: str, password: str, driver: str, groups: list[int]) -> int:
    if not all(isinstance(g, int) and not isinstance(g, bool) for g in groups):
        raise InvalidInput(f"group ids {groups!r} must be integers")
    return ctx.backend.identity.user_allocate(
        ctx.principal, name, password, driver=driver or "core", groups=groups
    )


def user_info(ctx: Ctx, user_id: int) -> str:
    render = legacy.user_xml if ctx.profile.legacy else r.user_xml
    return render(ctx.backend.identity.user_get(ctx.principal, user_id), ctx.backend.identity)


def userpool_info(ctx: Ctx) -> str:
    render = legacy.user_pool_xml if ctx.profile.legacy else r.user_pool_xml
    return render(ctx.backend.identity.user_list(ctx.principal), ctx.backend.identity)


def user_passwd(ctx: Ctx, user_id: int, password: str) -> int:
    ctx.backend.identity.user_passwd(ctx.principal, user_id, password)
    return user_id


def user_chgrp(ctx: Ctx, user_id: int, group_id: int) -> int:
    ctx.backend.identity.user_chgrp(ctx.principal, user_id, group_id)
    return user_id


def user_delete(ctx: Ctx, user_id: int) -> int:
    ctx.backend.identity.user_delete(ctx.principal, user_id)
    return user_id


def group_allocate(ctx: Ctx, name: str) -> int:
    return ctx.backend.identity.group_allocate(ctx.principal, name)


def group_info(ctx: Ctx, group_id: int) -> str:
    group = ctx.backend.identity.group_get(ctx.principal, group_id)
    render = legacy.group_xml if ctx.profile.legacy else r.group_xml
    return render(group, _members(ctx.backend.identity.user_list(ctx.principal), group))


def grouppool_info(ctx: Ctx) -> str:
    users = ctx.backend.identity.user_list(ctx.principal)
    groups = ctx.backend.identity.group_list(ctx.principal)
    render = legacy.group_pool_xml if ctx.profile.legacy else r.group_pool_xml
    return render([(g, _members(users, g)) for g in groups])


def group_delete(ctx: Ctx, group_id: int) -> int:
    ctx.backend.identity.group_delete(ctx.principal, group_id)
    return group_id


# ---- images, hosts, networks, datastores ----------------------------------------------


def image_info(ctx: Ctx, image_id: int) -> str:
    render = legacy.image_xml if ctx.profile.legacy else r.image_xml
    return render(ctx.backend.images.get(ctx.principal, image_id), ctx.backend.identity)


def imagepool_info(ctx: Ctx, filter_flag: int, start: int, end: int) -> str:
    render = legacy.image_pool_xml if ctx.profile.legacy else r.image_pool_xml
    return render(ctx.backend.images.list(ctx.principal), ctx.backend.identity)


def image_allocate(ctx: Ctx, text: str, datastore_id: int) -> int:
    request = requests.image_allocate(template.parse(text), datastore_id)
    return ctx.backend.images.allocate(ctx.principal, request)


def image_delete(ctx: Ctx, image_id: int) -> int:
    ctx.backend.images.delete(ctx.principal, image_id)
    return image_id


def image_enable(ctx: Ctx, image_id: int, enabled: bool) -> int:
    ctx.backend.images.enable(ctx.principal, image_id, enabled=enabled)
    return image_id


def image_persistent(ctx: Ctx, image_id: int, persistent: bool) -> int:
    ctx.backend.images.persistent(ctx.principal, image_id, persistent=persistent)
    return image_id


def image_chtype(ctx: Ctx, image_id: int, image_type: str) -> int:
    ctx.backend.images.chtype(ctx.principal, image_id, image_type.upper())
    return image_id


def host_allocate(ctx: Ctx, name: str, im_mad: str, vm_mad: str) -> int:
    return ctx.backend.system.host_allocate(ctx.principal, name, im_mad=im_mad, vm_mad=vm_mad)


def host_enable(ctx: Ctx, host_id: int, enabled: bool) -> int:
    ctx.backend.system.host_enable(ctx.principal, host_id, enabled=enabled)
    return host_id


def host_delete(ctx: Ctx, host_id: int) -> int:
    ctx.backend.system.host_delete(ctx.principal, host_id)
    return host_id


def host_info(ctx: Ctx, host_id: int) -> str:
    host = _find(ctx.backend.system.host_list(ctx.principal), host_id, lambda h: h.id, "host")
    return legacy.host_xml(host) if ctx.profile.legacy else r.host_xml(host)


def hostpool_info(ctx: Ctx) -> str:
    render = legacy.host_pool_xml if ctx.profile.legacy else r.host_pool_xml
    return render(ctx.backend.system.host_list(ctx.principal))


def datastorepool_info(ctx: Ctx) -> str:
    return r.datastore_pool_xml(ctx.backend.system.datastore_list(ctx.principal))


def datastore_info(ctx: Ctx, ds_id: int) -> str:
    stores = ctx.backend.system.datastore_list(ctx.principal)
    return r.datastore_xml(_find(stores, ds_id, lambda d: d.id, "datastore"))


# ---- ACLs -------------------------------------------------------------------------------


def _hex(value: object, what: str) -> int:
    """ACL masks come as hex strings ("0x100000000", pyone) or, from some clients, integers."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value), 16)
    except ValueError:
        raise InvalidInput(f"ACL {what} {value!r} is not a hexadecimal mask") from None


def acl_addrule(ctx: Ctx, user: object, resource: object, rights: object, zone: object) -> int:
    masks = _hex(user, "user"), _hex(resource, "resource"), _hex(rights, "rights")
    return ctx.backend.system.acl_add(ctx.principal, *masks)


def acl_delrule(ctx: Ctx, rule_id: int) -> int:
    ctx.backend.system.acl_delete(ctx.principal, rule_id)
    return rule_id


def acl_info(ctx: Ctx) -> str:
    return r.acl_pool_xml(ctx.backend.system.acl_list(ctx.principal))


_I, _S, _X = int, str, object  # object: any XML-RPC value, checked by the handler
_ID = (Param("id", _I),)
_POOL = (Param("filter", _I, -2), Param("start", _I, -1), Param("end", _I, -1))

METHODS: Mapping[str, Method] = {
    "one.user.allocate": Method(
        user_allocate,
        (
            Param("name", _S),
            Param("password", _S),
            Param("driver", _S, "core"),
            Param("groups", list, []),
        ),
    ),
    "one.user.info": Method(user_info, (Param("id", _I, -1),)),
    "one.userpool.info": Method(userpool_info),
    "one.user.passwd": Method(user_passwd, (Param("id", _I), Param("password", _S))),
    "one.user.chgrp": Method(user_chgrp, (Param("id", _I), Param("group", _I))),
    "one.user.delete": Method(user_delete, _ID),
    "one.group.allocate": Method(group_allocate, (Param("name", _S),)),
    "one.group.info": Method(group_info, _ID),
    "one.group.delete": Method(group_delete, _ID),
    "one.grouppool.info": Method(grouppool_info),
    "one.image.info": Method(image_info, _ID),
    "one.imagepool.info": Method(imagepool_info, _POOL),
    "one.image.allocate": Method(
        image_allocate, (Param("template", _S), Param("datastore", _I, 1))
    ),
    "one.image.delete": Method(image_delete, _ID),
    "one.image.enable": Method(image_enable, (Param("id", _I), Param("enable", bool))),
    "one.image.persistent": Method(image_persistent, (Param("id", _I), Param("persistent", bool))),
    "one.image.chtype": Method(image_chtype, (Param("id", _I), Param("type", _S))),
    "one.host.allocate": Method(
        host_allocate,
        (Param("name", _S), Param("im_mad", _S, "stratuslab"), Param("vm_mad", _S, "qemu")),
    ),
    "one.host.enable": Method(host_enable, (Param("id", _I), Param("enable", bool))),
    "one.host.delete": Method(host_delete, _ID),
    "one.host.info": Method(host_info, _ID),
    "one.hostpool.info": Method(hostpool_info),
    "one.datastore.info": Method(datastore_info, _ID),
    "one.datastorepool.info": Method(datastorepool_info),
    "one.acl.addrule": Method(
        acl_addrule,
        (Param("user", _X), Param("resource", _X), Param("rights", _X), Param("zone", _X, "0")),
    ),
    "one.acl.delrule": Method(acl_delrule, _ID),
    "one.acl.info": Method(acl_info),
}
