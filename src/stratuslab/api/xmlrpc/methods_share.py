"""XML-RPC methods that share, give away, rename or annotate existing objects:

`one.{image,template,vm,vn}.chmod` (nine rights, each 1 set, 0 clear, -1 keep),
`one.{image,template,vn}.chown` (ids, -1 keep), `one.{image,template}.rename`, `one.image.clone` (a copy the caller owns),
`one.{user,image,vn,host}.update` (the object's free-form TEMPLATE, replaced or merged),
`one.user.chauth` (core password or x509 subject) and `one.{user,group}.quota` (VM quotas).  Each handler decodes arguments, calls the
backend and answers the object's id; who may do what is the services' business.  Imports only
core and this package.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from stratuslab.api.xmlrpc import requests, template
from stratuslab.api.xmlrpc.backend import ImagePort, Rights, VmPort
from stratuslab.api.xmlrpc.dispatch import Ctx, Method, Param
from stratuslab.core.errors import InvalidInput, NotFound

ChmodFn = Callable[[Ctx, int, Rights], None]


def _rights(values: tuple[int, ...]) -> Rights:
    if len(values) != 9:
        raise InvalidInput(f"chmod takes nine rights, got {len(values)}")
    return (values[0], values[1], values[2], values[3], values[4], values[5], values[6],
            values[7], values[8])  # fmt: skip


def _chmod(apply: ChmodFn) -> Method:
    def handler(ctx: Ctx, obj_id: int, *values: int) -> int:
        apply(ctx, obj_id, _rights(values))
        return obj_id

    names = ("owner_u", "owner_m", "owner_a", "group_u", "group_m", "group_a",
             "other_u", "other_m", "other_a")  # fmt: skip
    return Method(handler, (Param("id", int), *(Param(n, int, -1) for n in names)))


def _merged(old: str, new: str, merge: int) -> str:
    """one.*.update: replace (0) the template, or merge (1) the new attributes into it."""
    if merge not in (0, 1):
        raise InvalidInput(f"update type {merge} is not 0 (replace) or 1 (merge)")
    given = template.parse(new)
    return template.render(template.parse(old).merged(given) if merge == 1 else given)


def user_update(ctx: Ctx, user_id: int, text: str, merge: int) -> int:
    old = ctx.backend.identity.user_get(ctx.principal, user_id).template or ""
    ctx.backend.identity.user_update(ctx.principal, user_id, _merged(old, text, merge))
    return user_id


def user_chauth(ctx: Ctx, user_id: int, driver: str, secret: str) -> int:
    ctx.backend.identity.user_chauth(ctx.principal, user_id, driver, secret)
    return user_id


def user_quota(ctx: Ctx, user_id: int, text: str) -> int:
    ctx.backend.identity.quota_set(ctx.principal, "user", user_id,
                                   requests.vm_quota(template.parse(text)))
    return user_id


def group_quota(ctx: Ctx, group_id: int, text: str) -> int:
    ctx.backend.identity.quota_set(ctx.principal, "group", group_id,
                                   requests.vm_quota(template.parse(text)))
    return group_id


def image_update(ctx: Ctx, image_id: int, text: str, merge: int) -> int:
    old = ctx.backend.images.get(ctx.principal, image_id).template or ""
    ctx.backend.images.update(ctx.principal, image_id, _merged(old, text, merge))
    return image_id


def image_chown(ctx: Ctx, image_id: int, user_id: int, group_id: int) -> int:
    ctx.backend.images.chown(ctx.principal, image_id, user_id, group_id)
    return image_id


def image_rename(ctx: Ctx, image_id: int, name: str) -> int:
    ctx.backend.images.rename(ctx.principal, image_id, name)
    return image_id


def image_clone(ctx: Ctx, image_id: int, name: str, datastore_id: int) -> int:
    return ctx.backend.images.clone(ctx.principal, image_id, name, datastore_id)


def vn_update(ctx: Ctx, net_id: int, text: str, merge: int) -> int:
    net = next((n for n in ctx.backend.networks.list(ctx.principal) if n.id == net_id), None)
    if net is None:
        raise NotFound("virtual network", net_id, "one.vnpool.info")
    ctx.backend.networks.update(ctx.principal, net_id, _merged(net.template, text, merge))
    return net_id


def vn_chown(ctx: Ctx, net_id: int, user_id: int, group_id: int) -> int:
    ctx.backend.networks.chown(ctx.principal, net_id, user_id, group_id)
    return net_id


def host_update(ctx: Ctx, host_id: int, text: str, merge: int) -> int:
    host = next((h for h in ctx.backend.system.host_list(ctx.principal) if h.id == host_id), None)
    if host is None:
        raise NotFound("host", host_id, "one.hostpool.info")
    old = template.render(template.Template(list(host.attrs.items())))
    ctx.backend.system.host_update(ctx.principal, host_id, _merged(old, text, merge))
    return host_id


def template_chown(ctx: Ctx, template_id: int, user_id: int, group_id: int) -> int:
    ctx.backend.system.template_chown(ctx.principal, template_id, user_id, group_id)
    return template_id


def template_rename(ctx: Ctx, template_id: int, name: str) -> int:
    ctx.backend.system.template_rename(ctx.principal, template_id, name)
    return template_id


def _lock(port: Callable[[Ctx], VmPort | ImagePort]) -> tuple[Method, Method]:
    """one.{vm,image}.lock (level 1 USE, 2 MANAGE, 3 ADMIN, 4 ALL) and .unlock."""
    def lock(ctx: Ctx, obj_id: int, level: int, test: bool) -> int:
        if level == 0:
            raise InvalidInput("lock level 0 is not a lock", hint="use unlock to unlock")
        port(ctx).lock(ctx.principal, obj_id, level, test=test)
        return obj_id

    def unlock(ctx: Ctx, obj_id: int) -> int:
        port(ctx).lock(ctx.principal, obj_id, 0, test=False)
        return obj_id

    lock_params = (Param("id", int), Param("level", int, 4), Param("test", bool, False))
    return Method(lock, lock_params), Method(unlock, (Param("id", int),))


_VM_LOCK = _lock(lambda ctx: ctx.backend.vms)
_IMAGE_LOCK = _lock(lambda ctx: ctx.backend.images)
_I, _S = int, str
_UPDATE = (Param("id", _I), Param("template", _S), Param("merge", _I, 0))
_CHOWN = (Param("id", _I), Param("user", _I, -1), Param("group", _I, -1))
_RENAME = (Param("id", _I), Param("name", _S))

METHODS: Mapping[str, Method] = {
    "one.user.update": Method(user_update, _UPDATE),
    "one.user.chauth": Method(
        user_chauth, (Param("id", _I), Param("driver", _S), Param("password", _S, ""))
    ),
    "one.user.quota": Method(user_quota, (Param("id", _I), Param("template", _S))),
    "one.group.quota": Method(group_quota, (Param("id", _I), Param("template", _S))),
    "one.image.update": Method(image_update, _UPDATE),
    "one.image.chown": Method(image_chown, _CHOWN),
    "one.image.rename": Method(image_rename, _RENAME),
    "one.image.clone": Method(image_clone, (*_RENAME, Param("datastore", _I, -1))),
    "one.image.chmod": _chmod(lambda c, i, r: c.backend.images.chmod(c.principal, i, r)),
    "one.vn.update": Method(vn_update, _UPDATE),
    "one.vn.chown": Method(vn_chown, _CHOWN),
    "one.vn.chmod": _chmod(lambda c, i, r: c.backend.networks.chmod(c.principal, i, r)),
    "one.vm.lock": _VM_LOCK[0],
    "one.vm.unlock": _VM_LOCK[1],
    "one.image.lock": _IMAGE_LOCK[0],
    "one.image.unlock": _IMAGE_LOCK[1],
    "one.vm.chmod": _chmod(lambda c, i, r: c.backend.vms.chmod(c.principal, i, r)),
    "one.host.update": Method(host_update, _UPDATE),
    "one.template.chown": Method(template_chown, _CHOWN),
    "one.template.rename": Method(template_rename, _RENAME),
    "one.template.chmod": _chmod(
        lambda c, i, r: c.backend.system.template_chmod(c.principal, i, r)
    ),
}
