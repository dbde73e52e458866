"""XML-RPC methods for the system, VMs and VM templates (`one.system.*`, `one.vm.*`,
`one.vmpool.*`, `one.template.*`, `one.templatepool.*`).

Each handler decodes arguments, calls one backend method and renders the answer; no business
logic.  Imports only core and this package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from stratuslab.api.xmlrpc import render_legacy as legacy
from stratuslab.api.xmlrpc import requests, template
from stratuslab.api.xmlrpc import xmlout as x
from stratuslab.api.xmlrpc.codes import ACTION_NAMES, action_for
from stratuslab.api.xmlrpc.dispatch import Ctx, Method, Param
from stratuslab.api.xmlrpc.render_pools import vmtemplate_pool_xml, vmtemplate_xml
from stratuslab.api.xmlrpc.render_vm import vm_pool_xml, vm_short_pool_xml, vm_xml
from stratuslab.core.entities import Image, Vm
from stratuslab.core.errors import CloudError, ErrorKind, InvalidInput


def system_version(ctx: Ctx) -> str:
    return ctx.version


def system_config(ctx: Ctx) -> str:
    """The few oned.conf facts clients look at (the version itself is one.system.version)."""
    return x.node(
        "OPENNEBULA_CONFIGURATION",
        x.leaves(
            [
                ("DEFAULT_DEVICE_PREFIX", "vd"),
                ("DEFAULT_UMASK", "177"),
                ("MAC_PREFIX", "02:00"),
                ("NETWORK_SIZE", 254),
                ("PORT", 2633),
            ]
        ),
    )


def _image_or_none(ctx: Ctx, image_id: int) -> Image | None:
    try:
        return ctx.backend.images.get(ctx.principal, image_id)
    except CloudError as exc:
        if exc.kind in (ErrorKind.NOT_FOUND, ErrorKind.FORBIDDEN):
            return None
        raise


def vm_allocate(ctx: Ctx, text: str, hold: bool) -> int:
    request = requests.vm_request(template.parse(text))
    return ctx.backend.vms.allocate(ctx.principal, request, hold=hold)


def vm_info(ctx: Ctx, vm_id: int) -> str:
    vm = ctx.backend.vms.get(ctx.principal, vm_id)
    render = legacy.vm_xml if ctx.profile.legacy else vm_xml
    return render(vm, ctx.backend.identity, _image_or_none(ctx, vm.image_id))


def vm_action(ctx: Ctx, name: str, vm_id: int) -> int:
    command = action_for(name)
    if command is None:
        raise InvalidInput(
            f"VM action {name!r} is not supported",
            hint="use one of: " + ", ".join(sorted(ACTION_NAMES)),
        )
    ctx.backend.vms.action(ctx.principal, command(vm_id))
    return vm_id


def vm_rename(ctx: Ctx, vm_id: int, name: str) -> int:
    ctx.backend.vms.rename(ctx.principal, vm_id, name)
    return vm_id


def vm_update(ctx: Ctx, vm_id: int, text: str, merge: int) -> int:
    items = tuple(template.parse(text).items) if text.strip() else ()
    ctx.backend.vms.update(ctx.principal, vm_id, items, merge=merge == 1)
    return vm_id


def vm_attach(ctx: Ctx, vm_id: int, text: str) -> int:
    disk = requests.disk(requests.one_vector(template.parse(text), "DISK"))
    ctx.backend.volumes.attach_disk(ctx.principal, vm_id, disk)
    return vm_id


def vm_detach(ctx: Ctx, vm_id: int, disk_id: int) -> int:
    ctx.backend.volumes.detach_disk(ctx.principal, vm_id, disk_id)
    return vm_id


def vm_attachnic(ctx: Ctx, vm_id: int, text: str) -> int:
    nic = requests.nic(requests.one_vector(template.parse(text), "NIC"))
    ctx.backend.vms.attach_nic(ctx.principal, vm_id, nic)
    return vm_id


def vm_detachnic(ctx: Ctx, vm_id: int, nic_id: int) -> int:
    ctx.backend.vms.detach_nic(ctx.principal, vm_id, nic_id)
    return vm_id


def vm_deploy(ctx: Ctx, vm_id: int, host_id: int) -> int:
    ctx.backend.vms.deploy(ctx.principal, vm_id, host_id)
    return vm_id


def vm_migrate(ctx: Ctx, vm_id: int, host_id: int, live: bool) -> int:
    ctx.backend.vms.migrate(ctx.principal, vm_id, host_id, live=live)
    return vm_id


def vm_chown(ctx: Ctx, vm_id: int, user_id: int, group_id: int) -> int:
    ctx.backend.vms.chown(ctx.principal, vm_id, user_id, group_id)
    return vm_id


def _vmpool(
    ctx: Ctx, filter_flag: int, start: int, end: int, state: int
) -> tuple[Sequence[Vm], Mapping[int, Image]]:
    query = requests.vm_query(filter_flag, start, end, state)
    vms = ctx.backend.vms.list(ctx.principal, query)
    images: Mapping[int, Image] = {}
    if vms:
        images = {i.id: i for i in ctx.backend.images.list(ctx.principal) if i.id is not None}
    return vms, images


def vmpool_info(ctx: Ctx, filter_flag: int, start: int, end: int, state: int) -> str:
    """3.x: full VMs; 7.x: the reduced pool form (infoextended has the full one)."""
    vms, images = _vmpool(ctx, filter_flag, start, end, state)
    render = legacy.vm_pool_xml if ctx.profile.legacy else vm_short_pool_xml
    return render(vms, ctx.backend.identity, images)


def vmpool_infoextended(ctx: Ctx, filter_flag: int, start: int, end: int, state: int) -> str:
    vms, images = _vmpool(ctx, filter_flag, start, end, state)
    render = legacy.vm_pool_xml if ctx.profile.legacy else vm_pool_xml
    return render(vms, ctx.backend.identity, images)


def template_allocate(ctx: Ctx, text: str) -> int:
    tpl = template.parse(text)
    name = tpl.get("NAME")
    if not name:
        raise InvalidInput("the VM template has no NAME", hint='add NAME="my-template"')
    return ctx.backend.system.template_allocate(ctx.principal, name, template.render(tpl))


def template_info(ctx: Ctx, template_id: int) -> str:
    return vmtemplate_xml(ctx.backend.system.template_get(ctx.principal, template_id), ctx.backend.identity)


def template_instantiate(ctx: Ctx, template_id: int, name: str, hold: bool, extra: str) -> int:
    record = ctx.backend.system.template_get(ctx.principal, template_id)
    tpl = template.parse(record.body)
    if extra.strip():
        tpl = tpl.merged(template.parse(extra))
    if name:
        tpl = tpl.merged(template.Template([("NAME", name)]))
    tpl.items.append(("TEMPLATE_ID", str(template_id)))
    return ctx.backend.vms.allocate(ctx.principal, requests.vm_request(tpl), hold=hold)


def template_update(ctx: Ctx, template_id: int, text: str, merge: int) -> int:
    """Replace (0) or merge into (1) the template's text; its name stays."""
    new = template.parse(text)
    if merge == 1:
        new = template.parse(ctx.backend.system.template_get(ctx.principal, template_id).body).merged(new)
    ctx.backend.system.template_update(ctx.principal, template_id, template.render(new))
    return template_id


def template_clone(ctx: Ctx, template_id: int, name: str) -> int:
    record = ctx.backend.system.template_get(ctx.principal, template_id)
    tpl = template.parse(record.body).merged(template.Template([("NAME", name)]))
    return ctx.backend.system.template_allocate(ctx.principal, name, template.render(tpl))


def template_delete(ctx: Ctx, template_id: int) -> int:
    ctx.backend.system.template_delete(ctx.principal, template_id)
    return template_id


def templatepool_info(ctx: Ctx, filter_flag: int, start: int, end: int) -> str:
    return vmtemplate_pool_xml(ctx.backend.system.template_list(ctx.principal), ctx.backend.identity)


_I, _S, _B = int, str, bool
_POOL = (Param("filter", _I, -2), Param("start", _I, -1), Param("end", _I, -1))

METHODS: Mapping[str, Method] = {
    "one.system.version": Method(system_version),
    "one.system.config": Method(system_config),
    "one.vm.allocate": Method(vm_allocate, (Param("template", _S), Param("hold", _B, False))),
    "one.vm.info": Method(vm_info, (Param("id", _I),)),
    "one.vm.action": Method(vm_action, (Param("action", _S), Param("id", _I))),
    "one.vm.rename": Method(vm_rename, (Param("id", _I), Param("name", _S))),
    "one.vm.update": Method(
        vm_update, (Param("id", _I), Param("template", _S), Param("merge", _I, 0))
    ),
    "one.vm.attach": Method(vm_attach, (Param("id", _I), Param("template", _S))),
    "one.vm.detach": Method(vm_detach, (Param("id", _I), Param("disk_id", _I))),
    "one.vm.attachnic": Method(vm_attachnic, (Param("id", _I), Param("template", _S))),
    "one.vm.detachnic": Method(vm_detachnic, (Param("id", _I), Param("nic_id", _I))),
    "one.vm.deploy": Method(vm_deploy, (Param("id", _I), Param("host", _I))),
    "one.vm.migrate": Method(
        vm_migrate, (Param("id", _I), Param("host", _I), Param("live", _B, False))
    ),
    "one.vm.chown": Method(
        vm_chown, (Param("id", _I), Param("user", _I, -1), Param("group", _I, -1))
    ),
    "one.vmpool.info": Method(vmpool_info, (*_POOL, Param("state", _I, -1))),
    "one.vmpool.infoextended": Method(vmpool_infoextended, (*_POOL, Param("state", _I, -1))),
    "one.template.allocate": Method(template_allocate, (Param("template", _S),)),
    "one.template.info": Method(template_info, (Param("id", _I),)),
    "one.template.instantiate": Method(
        template_instantiate,
        (Param("id", _I), Param("name", _S, ""), Param("hold", _B, False), Param("extra", _S, "")),
    ),
    "one.template.update": Method(
        template_update, (Param("id", _I), Param("template", _S), Param("merge", _I, 0))
    ),
    "one.template.clone": Method(template_clone, (Param("id", _I), Param("name", _S))),
    "one.template.delete": Method(template_delete, (Param("id", _I),)),
    "one.templatepool.info": Method(templatepool_info, _POOL),
}
