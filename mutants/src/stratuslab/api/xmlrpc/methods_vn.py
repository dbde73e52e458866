"""XML-RPC methods for virtual networks: `one.vn.*` (4.4+ address ranges, reservations and
holds, and the 3.x `addleases`/`rmleases`) and `one.vnpool.info`.

Each handler decodes the template argument, calls one backend method and answers the network
id, as OpenNebula does.  Imports only core and this package.
"""

from __future__ import annotations

from collections.abc import Mapping

from stratuslab.api.xmlrpc import render_legacy as legacy
from stratuslab.api.xmlrpc import render_pools as r
from stratuslab.api.xmlrpc import requests, template
from stratuslab.api.xmlrpc.backend import AddressRange
from stratuslab.api.xmlrpc.dispatch import Ctx, Method, Param
from stratuslab.core.errors import InvalidInput, NotFound


def vn_allocate(ctx: Ctx, text: str, cluster_id: int) -> int:
    request = requests.network_allocate(template.parse(text))
    return ctx.backend.networks.allocate(ctx.principal, request)


def vn_info(ctx: Ctx, net_id: int) -> str:
    for net in ctx.backend.networks.list(ctx.principal):
        if net.id == net_id:
            render = legacy.vnet_xml if ctx.profile.legacy else r.vnet_xml
            return render(net, ctx.backend.identity)
    raise NotFound("virtual network", net_id, listing="one.vnpool.info")


def vnpool_info(ctx: Ctx, filter_flag: int, start: int, end: int) -> str:
    render = legacy.vnet_pool_xml if ctx.profile.legacy else r.vnet_pool_xml
    return render(ctx.backend.networks.list(ctx.principal), ctx.backend.identity)


def vn_delete(ctx: Ctx, net_id: int) -> int:
    ctx.backend.networks.delete(ctx.principal, net_id)
    return net_id


def _range(text: str) -> AddressRange:
    return requests.address_range(requests.one_vector(template.parse(text), "AR"))


def vn_add_ar(ctx: Ctx, net_id: int, text: str) -> int:
    ctx.backend.networks.add_range(ctx.principal, net_id, _range(text))
    return net_id


def vn_update_ar(ctx: Ctx, net_id: int, text: str) -> int:
    ar = _range(text)
    if ar.ar_id is None:
        raise InvalidInput("AR=[...] must carry the AR_ID of the range to update")
    ctx.backend.networks.update_range(ctx.principal, net_id, ar)
    return net_id


def vn_rm_ar(ctx: Ctx, net_id: int, ar_id: int) -> int:
    ctx.backend.networks.rm_range(ctx.principal, net_id, ar_id)
    return net_id


def vn_hold(ctx: Ctx, net_id: int, text: str) -> int:
    ctx.backend.networks.hold(ctx.principal, net_id, requests.lease_address(template.parse(text)))
    return net_id


def vn_release(ctx: Ctx, net_id: int, text: str) -> int:
    address = requests.lease_address(template.parse(text))
    ctx.backend.networks.release(ctx.principal, net_id, address)
    return net_id


def vn_reserve(ctx: Ctx, net_id: int, text: str) -> int:
    reservation = requests.reservation(template.parse(text))
    return ctx.backend.networks.reserve(ctx.principal, net_id, reservation)


def vn_addleases(ctx: Ctx, net_id: int, text: str) -> int:
    lease = requests.one_vector(template.parse(text), "LEASES")
    ar = AddressRange(ip=lease.get("IP"), mac=lease.get("MAC"), size=1)
    ctx.backend.networks.add_range(ctx.principal, net_id, ar)
    return net_id


def vn_rmleases(ctx: Ctx, net_id: int, text: str) -> int:
    address = requests.lease_address(template.parse(text))
    ctx.backend.networks.remove_lease(ctx.principal, net_id, address)
    return net_id


_I, _S = int, str
_ID_TPL = (Param("id", _I), Param("template", _S))

METHODS: Mapping[str, Method] = {
    "one.vn.allocate": Method(vn_allocate, (Param("template", _S), Param("cluster", _I, -1))),
    "one.vn.info": Method(vn_info, (Param("id", _I),)),
    "one.vn.delete": Method(vn_delete, (Param("id", _I),)),
    "one.vnpool.info": Method(
        vnpool_info, (Param("filter", _I, -2), Param("start", _I, -1), Param("end", _I, -1))
    ),
    "one.vn.add_ar": Method(vn_add_ar, _ID_TPL),
    "one.vn.update_ar": Method(vn_update_ar, _ID_TPL),
    "one.vn.rm_ar": Method(vn_rm_ar, (Param("id", _I), Param("ar_id", _I))),
    "one.vn.hold": Method(vn_hold, _ID_TPL),
    "one.vn.release": Method(vn_release, _ID_TPL),
    "one.vn.reserve": Method(vn_reserve, _ID_TPL),
    "one.vn.addleases": Method(vn_addleases, _ID_TPL),
    "one.vn.rmleases": Method(vn_rmleases, _ID_TPL),
}
