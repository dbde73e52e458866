"""Translate between OCCI entities and what the backend speaks.

One table each for: VmState -> occi.compute.state, OCCI compute action (+ method) -> command type.
Template mixins: images become os_tpl mixins (term ``img-<id>``, plus the marketplace id when
the image has one), instance types become resource_tpl mixins (``m1.small`` -> ``m1-small``).
Imports only core and this package.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from stratuslab.api.occi import model as m
from stratuslab.api.occi.backend import (
    ComputeRequest,
    LinkRecord,
    NetworkRecord,
    NetworkRequest,
    StorageRecord,
)
from stratuslab.api.occi.textfmt import OcciError, bad
from stratuslab.core.commands import PoweroffVm, RebootVm, StartVm, StopVm, SuspendVm, VmCommand
from stratuslab.core.entities import Image, InstanceType, Vm
from stratuslab.core.occimixins import UserMixin
from stratuslab.core.states import VmState, next_state

S = VmState
#: The one table from our VM states to occi.compute.state.
COMPUTE_STATE: Mapping[VmState, str] = {
    **{s: "inactive" for s in S},
    S.RUNNING: "active",
    S.REBOOT: "active",
    S.SUSPENDED: "suspended",
    S.SAVE: "suspended",
    S.FAILED: "error",
    S.UNKNOWN: "error",
    **{s: "error" for s in S if s.value.endswith("-failure")},
}

#: (action term, method or None) -> our command type; None as method is the default for the term.
COMPUTE_ACTIONS: Mapping[tuple[str, str | None], type[VmCommand]] = {
    ("start", None): StartVm,
    ("stop", None): PoweroffVm,
    ("stop", "graceful"): PoweroffVm,
    ("stop", "acpioff"): PoweroffVm,
    ("stop", "poweroff"): PoweroffVm,
    ("restart", None): RebootVm,
    ("restart", "graceful"): RebootVm,
    ("restart", "warm"): RebootVm,
    ("restart", "cold"): RebootVm,
    ("suspend", None): SuspendVm,
    ("suspend", "suspend"): SuspendVm,
    ("suspend", "hibernate"): StopVm,
}


def compute_action(term: str, attributes: Mapping[str, Any]) -> type[VmCommand]:
    method = attributes.get("method")
    action = COMPUTE_ACTIONS.get((term, str(method) if method is not None else None))
    if action is None:
        supported = sorted({t for t, _ in COMPUTE_ACTIONS})
        raise bad(
            f"compute action {term!r} (method {method!r}) is not supported; "
            f"use one of: {', '.join(supported)}"
        )
    return action


# ---- template mixins ----------------------------------------------------------------------


def os_tpl_term(image: Image) -> str:
    return f"img-{image.id}"


def resource_tpl_term(itype: InstanceType) -> str:
    return itype.name.replace(".", "-")


def user_mixin(mixin: UserMixin) -> m.Category:
    """A user's own mixin (a tag): no attributes, applies to every resource kind."""
    kinds = tuple(k.type_id for k in (m.COMPUTE, m.NETWORK, m.STORAGE))
    return m.Category(mixin.scheme, mixin.term, "mixin", mixin.title, applies=kinds,
                      location=mixin.location)


def template_mixins(images: Iterable[Image], types: Iterable[InstanceType]) -> list[m.Category]:
    out = []
    for image in images:
        out.append(m.os_tpl_mixin(os_tpl_term(image), image.name))
        if image.marketplace_id:
            out.append(m.os_tpl_mixin(image.marketplace_id, f"{image.name} (marketplace)"))
    for itype in types:
        out.append(
            m.resource_tpl_mixin(
                resource_tpl_term(itype), itype.name, itype.cpu, round(itype.ram_mib / 1024, 3)
            )
        )
    return out


def _image_for(term: str, images: Sequence[Image]) -> int:
    for image in images:
        if image.id is not None and term in (os_tpl_term(image), image.marketplace_id):
            return image.id
    raise bad(f"os_tpl {term!r} names no image; list them with GET /-/")


# ---- entity -> requests ----------------------------------------------------------------


def _terms(mixins: Iterable[str], scheme: str) -> list[str]:
    return [t[len(scheme) :] for t in mixins if t.startswith(scheme)]


def _str_id(location: str, collection: str) -> str:
    tail = location.rstrip("/").rsplit("/", 1)
    if len(tail) != 2 or not tail[0].endswith(collection) or not tail[1]:
        raise bad(f"link target {location!r} is not a {collection}/<id> location")
    return tail[1]


def _int_id(location: str, collection: str) -> int:
    tail = location.rstrip("/").rsplit("/", 1)
    if len(tail) != 2 or not tail[0].endswith(collection) or not tail[1].isdigit():
        raise bad(f"link target {location!r} is not a {collection}/<id> location")
    return int(tail[1])


def compute_request(
    entity: m.Entity, images: Sequence[Image], types: Sequence[InstanceType]
) -> ComputeRequest:
    os_terms = _terms(entity.mixins, m.OS_TPL_SCHEME)
    if len(os_terms) > 1:
        raise bad("a compute takes one os_tpl mixin (the image), not several; see GET /-/")
    res_terms = _terms(entity.mixins, m.RESOURCE_TPL_SCHEME)
    itype = next(
        (t.name for t in types if res_terms and resource_tpl_term(t) == res_terms[0]), None
    )
    attrs = entity.attributes
    memory = attrs.get("occi.compute.memory")
    cores = attrs.get("occi.compute.cores")
    key = attrs.get("occi.credentials.ssh.publickey")
    networks = [
        _int_id(link.target, "/network")
        for link in entity.links
        if link.kind == m.NETWORKINTERFACE.type_id
    ]
    storage = [
        (_str_id(link.target, "/storage"), link.attributes.get("occi.storagelink.deviceid"))
        for link in entity.links
        if link.kind == m.STORAGELINK.type_id
    ]
    return ComputeRequest(
        image_id=_image_for(os_terms[0], images) if os_terms else None,  # None: the default
        instance_type=itype,
        cores=int(cores) if isinstance(cores, int | float) else None,
        memory_mib=int(float(memory) * 1024) if isinstance(memory, int | float) else None,
        name=entity.title or _str(attrs.get("occi.compute.hostname")),
        ssh_keys=(str(key),) if key else (),
        user_data=_str(attrs.get("occi.compute.userdata")),
        network_ids=tuple(networks),
        storage=tuple((sid, _str(dev)) for sid, dev in storage),
    )


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def network_request(entity: m.Entity) -> NetworkRequest:
    a = entity.attributes
    vlan = a.get("occi.network.vlan")
    return NetworkRequest(
        title=entity.title,
        vlan=int(vlan) if isinstance(vlan, int | float) else None,
        label=_str(a.get("occi.network.label")),
        address=_str(a.get("occi.network.address")),
        gateway=_str(a.get("occi.network.gateway")),
        allocation=_str(a.get("occi.network.allocation")),
    )


def storage_size(entity: m.Entity) -> float:
    size = entity.attributes.get("occi.storage.size")
    if not isinstance(size, int | float) or isinstance(size, bool) or size <= 0:
        raise bad("occi.storage.size (GiB, a positive number) is required to create storage")
    return float(size)


def link_ends(entity: m.Entity) -> tuple[str, int, int | str]:
    """(kind term, compute id, target id) of a link creation request."""
    kind = entity.kind.rsplit("#", 1)[-1]
    if kind not in ("networkinterface", "storagelink"):
        raise OcciError(400, f"links of kind {kind!r} cannot be created here")
    source = str(entity.attributes.get("occi.core.source", ""))
    target = str(entity.attributes.get("occi.core.target", ""))
    collection = "/network" if kind == "networkinterface" else "/storage"
    if kind == "storagelink":
        return kind, _int_id(source, "/compute"), _str_id(target, collection)
    return kind, _int_id(source, "/compute"), _int_id(target, collection)


# ---- domain -> entities ----------------------------------------------------------------


def link_entity(rec: LinkRecord) -> m.Link:
    network = rec.kind == "networkinterface"
    return m.Link(
        kind=(m.NETWORKINTERFACE if network else m.STORAGELINK).type_id,
        id=rec.id,
        location=f"{(m.NETWORKINTERFACE if network else m.STORAGELINK).location}{rec.id}",
        source=f"/compute/{rec.compute_id}",
        target=f"/{'network' if network else 'storage'}/{rec.target_id}",
        target_kind=(m.NETWORK if network else m.STORAGE).type_id,
        mixins=[m.IPNETWORKINTERFACE.type_id] if network else [],
        attributes={"occi.core.id": rec.id, **dict(rec.attributes)},
    )


def compute_entity(vm: Vm, images: Sequence[Image], links: Sequence[LinkRecord]) -> m.Entity:
    state = vm.vm_state
    attrs: dict[str, Any] = {
        "occi.core.id": str(vm.id),
        "occi.core.title": vm.name,
        "occi.compute.architecture": "x64",
        "occi.compute.cores": vm.vcpu,
        "occi.compute.hostname": vm.name,
        "occi.compute.memory": round(vm.memory_mib / 1024, 3),
        "occi.compute.state": COMPUTE_STATE.get(state, "error"),
    }
    if vm.error:
        attrs["occi.compute.state.message"] = vm.error
    mixins = [m.RESOURCE_TPL_SCHEME + vm.instance_type.replace(".", "-")]
    image = next((i for i in images if i.id == vm.image_id), None)
    if image is not None:
        mixins.insert(0, m.OS_TPL_SCHEME + os_tpl_term(image))
    actions = [
        a.type_id
        for a in m.COMPUTE_ACTIONS
        if any(
            next_state(state, cmd.action) for (term, _), cmd in COMPUTE_ACTIONS.items()
            if term == a.term
        )
    ]
    location = f"/compute/{vm.id}"
    return m.Entity(
        kind=m.COMPUTE.type_id,
        mixins=mixins,
        attributes=attrs,
        id=str(vm.id),
        location=location,
        links=[link_entity(r) for r in links],
        actions=actions,
    )


def network_entity(net: NetworkRecord) -> m.Entity:
    attrs: dict[str, Any] = {
        "occi.core.id": str(net.id),
        "occi.core.title": net.title,
        "occi.network.state": net.state,
    }
    for key, value in (
        ("vlan", net.vlan),
        ("label", net.label),
        ("address", net.address),
        ("gateway", net.gateway),
        ("allocation", net.allocation),
    ):
        if value is not None:
            attrs[f"occi.network.{key}"] = value
    actions = [a.type_id for a in m.NETWORK_ACTIONS if (a.term == "up") == (net.state != "active")]
    return m.Entity(
        kind=m.NETWORK.type_id,
        mixins=[m.IPNETWORK.type_id],
        attributes=attrs,
        id=str(net.id),
        location=f"/network/{net.id}",
        actions=actions,
    )


def storage_entity(vol: StorageRecord) -> m.Entity:
    attrs: dict[str, Any] = {
        "occi.core.id": str(vol.id),
        "occi.core.title": vol.title,
        "occi.storage.size": vol.size_gib,
        "occi.storage.state": vol.state,
    }
    if vol.message:
        attrs["occi.storage.state.message"] = vol.message
    actions = [
        a.type_id for a in m.STORAGE_ACTIONS if (a.term == "online") == (vol.state != "online")
    ]
    return m.Entity(
        kind=m.STORAGE.type_id,
        attributes=attrs,
        id=str(vol.id),
        location=f"/storage/{vol.id}",
        actions=actions,
    )


def link_as_entity(rec: LinkRecord) -> m.Entity:
    link = link_entity(rec)
    attrs = {"occi.core.source": link.source, "occi.core.target": link.target, **link.attributes}
    return m.Entity(
        kind=link.kind, mixins=link.mixins, attributes=attrs, id=rec.id, location=link.location
    )
