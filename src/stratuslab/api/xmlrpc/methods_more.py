"""XML-RPC methods of later OpenNebula lines (and two 3.2 ones) over the same ports:

`one.user.enable/addgroup/delgroup/login`, `one.host.status` (0 enabled, 1 disabled, 2 offline), `one.vmpool.infoset`, `one.vm.resize`,
`one.vm.recover`, `one.vm.disksaveas` and 3.2's `one.vm.savedisk` (the VM's root disk as a new
image), the monitoring calls (this cloud keeps no monitoring series: empty MONITORING_DATA),
`one.vmpool.accounting` (the VMs' history records), and the one cluster and zone this cloud is
(`one.cluster*`, `one.zone*` info).  Each handler decodes arguments, calls the backend and
renders the answer; no business logic.  Imports only core and this package.
"""

from __future__ import annotations

from collections.abc import Mapping

from stratuslab.api.xmlrpc import render_legacy as legacy
from stratuslab.api.xmlrpc import requests, template
from stratuslab.api.xmlrpc import xmlout as x
from stratuslab.api.xmlrpc.dispatch import Ctx, Method, Param
from stratuslab.api.xmlrpc.render_vm import vm_pool_xml, vm_short_pool_xml
from stratuslab.core.commands import (
    RecoverDelete,
    RecoverFailure,
    RecoverRetry,
    RecoverSuccess,
    VmCommand,
)
from stratuslab.core.errors import InvalidInput, NotFound, Unsupported

#: one.vm.recover operations -> our recover actions (4 delete-recreate, 5 delete-db: not here)
RECOVER: Mapping[int, type[VmCommand]] = {
    0: RecoverFailure,
    1: RecoverSuccess,
    2: RecoverRetry,
    3: RecoverDelete,
}


def user_enable(ctx: Ctx, user_id: int, enabled: bool) -> int:
    ctx.backend.identity.user_enable(ctx.principal, user_id, enabled=enabled)
    return user_id


def user_addgroup(ctx: Ctx, user_id: int, group_id: int) -> int:
    ctx.backend.identity.user_addgroup(ctx.principal, user_id, group_id)
    return user_id


def user_delgroup(ctx: Ctx, user_id: int, group_id: int) -> int:
    ctx.backend.identity.user_delgroup(ctx.principal, user_id, group_id)
    return user_id


def user_login(ctx: Ctx, name: str, token: str, seconds: int, egid: int) -> str:
    """A login token (an API token of the caller) the session string then carries as
    ``user:token``; the effective-group form (egid >= 0) is not offered here."""
    if egid != -1:
        raise Unsupported(f"a login token limited to group {egid}",
                          hint="use egid -1: a token acts with all of the user's groups")
    return ctx.backend.identity.user_login(ctx.principal, name, token, seconds)


def host_status(ctx: Ctx, host_id: int, status: int) -> int:
    if status not in (0, 1, 2):
        raise InvalidInput(f"host status {status} is not 0 (enabled), 1 (disabled) or 2 (offline)")
    if status == 2:
        ctx.backend.system.host_offline(ctx.principal, host_id)
    else:
        ctx.backend.system.host_enable(ctx.principal, host_id, enabled=status == 0)
    return host_id


def _ids(text: str) -> list[int]:
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise InvalidInput(f"VM ids {text!r} are not a comma-separated list of numbers") from None


def vmpool_infoset(ctx: Ctx, ids: str, extended: bool) -> str:
    """The VMs of `ids` the caller may see (others are left out, as OpenNebula does)."""
    vms = []
    for vm_id in _ids(ids):
        try:
            vms.append(ctx.backend.vms.get(ctx.principal, vm_id))
        except NotFound:
            continue
    images = {i.id: i for i in ctx.backend.images.list(ctx.principal) if i.id is not None}
    if ctx.profile.legacy:
        return legacy.vm_pool_xml(vms, ctx.backend.identity, images)
    render = vm_pool_xml if extended else vm_short_pool_xml
    return render(vms, ctx.backend.identity, images)


def vm_resize(ctx: Ctx, vm_id: int, text: str, enforce: bool) -> int:
    cpu, memory = requests.vm_shape(template.parse(text))
    if cpu is None and memory is None:
        raise InvalidInput("the resize template has neither CPU/VCPU nor MEMORY",
                           hint='give e.g. VCPU="2" MEMORY="1024"')
    ctx.backend.vms.resize(ctx.principal, vm_id, cpu=cpu, memory_mib=memory)
    return vm_id


def vm_recover(ctx: Ctx, vm_id: int, operation: int) -> int:
    command = RECOVER.get(operation)
    if command is None:
        raise InvalidInput(
            f"recover operation {operation} is not supported",
            hint="use 0 (failure), 1 (success), 2 (retry) or 3 (delete)",
        )
    ctx.backend.vms.action(ctx.principal, command(vm_id))
    return vm_id


def vm_disksaveas(ctx: Ctx, vm_id: int, disk_id: int, name: str, kind: str, snap: int) -> int:
    return ctx.backend.vms.save_disk(ctx.principal, vm_id, disk_id, name)


def vm_savedisk(ctx: Ctx, vm_id: int, disk_id: int, name: str, kind: str) -> int:
    """3.2: the disk is saved as image `name` (we save at once, on a powered-off VM)."""
    return ctx.backend.vms.save_disk(ctx.principal, vm_id, disk_id, name)


def vm_monitoring(ctx: Ctx, vm_id: int) -> str:
    ctx.backend.vms.get(ctx.principal, vm_id)  # the VM must exist and be visible
    return x.node("MONITORING_DATA")


def host_monitoring(ctx: Ctx, host_id: int) -> str:
    if host_id not in {h.id for h in ctx.backend.system.host_list(ctx.principal)}:
        raise NotFound("host", host_id, "one.hostpool.info")
    return x.node("MONITORING_DATA")


def pool_monitoring(ctx: Ctx, *_: int) -> str:
    return x.node("MONITORING_DATA")


def vmpool_accounting(ctx: Ctx, filter_flag: int, start: int, end: int) -> str:
    """The history records of the VMs the caller may see (one record per VM here)."""
    query = requests.vm_query(filter_flag, -1, -1, -2)
    records = []
    for vm in ctx.backend.vms.list(ctx.principal, query):
        if not vm.host:
            continue
        records.append(x.node("HISTORY", x.leaves([
            ("OID", vm.id), ("SEQ", 0), ("HOSTNAME", vm.host), ("HID", 0), ("CID", 0),
            ("STIME", x.epoch(vm.created_at)), ("ETIME", 0), ("VM_MAD", "qemu"),
            ("TM_MAD", "qcow2"), ("DS_ID", 0), ("ACTION", 0),
        ])))  # fmt: skip
    return x.node("HISTORY_RECORDS", records)


def _cluster(ctx: Ctx) -> str:
    hosts = [h.id for h in ctx.backend.system.host_list(ctx.principal)]
    nets = [n.id for n in ctx.backend.networks.list(ctx.principal)]
    stores = [d.id for d in ctx.backend.system.datastore_list(ctx.principal)]
    return x.node(
        "CLUSTER",
        x.leaves([("ID", 0), ("NAME", "default")]),
        x.node("HOSTS", (x.leaf("ID", i) for i in hosts)),
        x.node("DATASTORES", (x.leaf("ID", i) for i in stores)),
        x.node("VNETS", (x.leaf("ID", i) for i in nets)),
        x.template("TEMPLATE", {}),
    )


def cluster_info(ctx: Ctx, cluster_id: int) -> str:
    if cluster_id != 0:
        raise NotFound("cluster", cluster_id, "one.clusterpool.info")
    return _cluster(ctx)


def clusterpool_info(ctx: Ctx) -> str:
    return x.node("CLUSTER_POOL", _cluster(ctx))


def _zone() -> str:
    return x.node(
        "ZONE",
        x.leaves([("ID", 0), ("NAME", "OpenNebula"), ("STATE", 0)]),
        x.node("TEMPLATE", x.leaf("ENDPOINT", "-")),
        x.node("SERVER_POOL"),
    )


def zone_info(ctx: Ctx, zone_id: int) -> str:
    if zone_id != 0:
        raise NotFound("zone", zone_id, "one.zonepool.info")
    return _zone()


def zonepool_info(ctx: Ctx) -> str:
    return x.node("ZONE_POOL", _zone())


_I, _S, _B = int, str, bool
_ID = (Param("id", _I),)
_POOL = (Param("filter", _I, -2), Param("start", _I, -1), Param("end", _I, -1))

METHODS: Mapping[str, Method] = {
    "one.user.enable": Method(user_enable, (Param("id", _I), Param("enable", _B))),
    "one.user.addgroup": Method(user_addgroup, (Param("id", _I), Param("group", _I))),
    "one.user.delgroup": Method(user_delgroup, (Param("id", _I), Param("group", _I))),
    "one.user.login": Method(user_login, (Param("name", _S), Param("token", _S, ""),
                                          Param("valid", _I, 36000), Param("egid", _I, -1))),
    "one.host.status": Method(host_status, (Param("id", _I), Param("status", _I))),
    "one.host.monitoring": Method(host_monitoring, _ID),
    "one.hostpool.monitoring": Method(pool_monitoring, (Param("seconds", _I, -1),)),
    "one.vmpool.infoset": Method(vmpool_infoset, (Param("ids", _S), Param("extended", _B, False))),
    "one.vmpool.monitoring": Method(pool_monitoring, (Param("filter", _I, -2),
                                                      Param("seconds", _I, -1))),  # fmt: skip
    "one.vmpool.accounting": Method(vmpool_accounting, _POOL),
    "one.vm.resize": Method(
        vm_resize, (Param("id", _I), Param("template", _S), Param("enforce", _B, False))
    ),
    "one.vm.recover": Method(vm_recover, (Param("id", _I), Param("operation", _I))),
    "one.vm.disksaveas": Method(
        vm_disksaveas,
        (Param("id", _I), Param("disk_id", _I), Param("name", _S), Param("type", _S, ""),
         Param("snapshot", _I, -1)),
    ),  # fmt: skip
    "one.vm.savedisk": Method(
        vm_savedisk,
        (Param("id", _I), Param("disk_id", _I), Param("name", _S), Param("type", _S, "")),
    ),
    "one.vm.monitoring": Method(vm_monitoring, _ID),
    "one.cluster.info": Method(cluster_info, _ID),
    "one.clusterpool.info": Method(clusterpool_info),
    "one.zone.info": Method(zone_info, _ID),
    "one.zonepool.info": Method(zonepool_info),
}
