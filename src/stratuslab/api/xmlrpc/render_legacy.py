"""OpenNebula 3.x XML (the `legacy` profile): VM, user, group, image, virtual network and host
shaped as 3.2's share/doc/xsd, the line the StratusLab 14.06 client and oca 3.x/4.x parse.

What differs from the current shapes: a VM carries its MEMORY (KiB) and CPU (%) at the top level
(the client's describe-instance memory and cpu% columns) and no USER_TEMPLATE (its error goes to
TEMPLATE/ERROR/MESSAGE, where that client looks); users have one group; groups list users only;
images have FSTYPE; networks are RANGED (TYPE 0, RANGE) or FIXED (TYPE 1, LEASES); hosts have
LAST_MON_TIME and the 3.x HOST_SHARE.  Pools are the objects side by side.
Imports only core and this package.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence

from stratuslab.api.xmlrpc import xmlout as x
from stratuslab.api.xmlrpc.backend import HostRecord, NetworkRecord
from stratuslab.api.xmlrpc.codes import state_numbers
from stratuslab.api.xmlrpc.render_pools import (
    IMAGE_STATE_NUMBERS,
    image_template,
    owned,
    user_template,
)
from stratuslab.api.xmlrpc.render_vm import Ids, vm_template
from stratuslab.api.xmlrpc.template import Value
from stratuslab.core.entities import Group, Image, User, Vm
from stratuslab.core.states import VmState

_ACTIVE = frozenset({VmState.BOOT, VmState.RUNNING, VmState.REBOOT, VmState.SHUTDOWN})


def _history(vm: Vm) -> str:
    if not vm.host:
        return x.node("HISTORY_RECORDS")
    start = x.epoch(vm.created_at)
    ended = x.epoch(vm.updated_at) if vm.vm_state is VmState.DONE else 0
    record = x.leaves(
        [
            ("SEQ", 0),
            ("HOSTNAME", vm.host),
            ("VM_DIR", "/var/lib/one"),
            ("HID", 0),
            ("STIME", start),
            ("ETIME", ended),
            ("VMMMAD", "qemu"),
            ("VNMMAD", "bridge"),
            ("TMMAD", "qcow2"),
            ("PSTIME", start),
            ("PETIME", start),
            ("RSTIME", start),
            ("RETIME", ended),
            ("ESTIME", 0),
            ("EETIME", 0),
            ("REASON", 0),
        ]
    )
    return x.node("HISTORY_RECORDS", x.node("HISTORY", record))


def vm_xml(vm: Vm, ids: Ids, image: Image | None = None) -> str:
    state, lcm = state_numbers(vm.vm_state, vm.last_action)
    template: list[tuple[str, Value]] = vm_template(vm, image, legacy=True)
    if vm.error:
        template.append(("ERROR", {"MESSAGE": vm.error, "TIMESTAMP": str(x.epoch(vm.updated_at))}))
    running = vm.vm_state in _ACTIVE
    return x.node(
        "VM",
        owned(vm.id, vm.owner, vm.group, vm.name, ids),
        x.rights(vm.permissions),
        x.leaves(
            [
                ("LAST_POLL", x.epoch(vm.updated_at)),
                ("STATE", state),
                ("LCM_STATE", lcm),
                ("STIME", x.epoch(vm.created_at)),
                ("ETIME", x.epoch(vm.updated_at) if vm.vm_state is VmState.DONE else 0),
                ("DEPLOY_ID", f"one-{vm.id}" if vm.host else ""),
                ("MEMORY", vm.memory_mib * 1024 if running else 0),  # KiB, as 3.x monitored
                ("CPU", 0),
                ("NET_TX", 0),
                ("NET_RX", 0),
            ]
        ),
        x.template("TEMPLATE", template),
        _history(vm),
    )


def vm_pool_xml(vms: Iterable[Vm], ids: Ids, images: Mapping[int, Image]) -> str:
    return x.node("VM_POOL", (vm_xml(vm, ids, images.get(vm.image_id)) for vm in vms))


def user_xml(user: User, ids: Ids) -> str:
    return x.node(
        "USER",
        x.leaves(
            [
                ("ID", user.id),
                ("GID", ids.group_id(user.primary_group)),
                ("GNAME", user.primary_group),
                ("NAME", user.name),
                ("PASSWORD", "*"),  # hashes never leave the server
                ("AUTH_DRIVER", "x509" if user.dn else "core"),
                ("ENABLED", 1 if user.enabled else 0),
            ]
        ),
        x.template("TEMPLATE", user_template(user)),
    )


def user_pool_xml(users: Iterable[User], ids: Ids) -> str:
    return x.node("USER_POOL", (user_xml(u, ids) for u in users))


def group_xml(group: Group, member_ids: Sequence[int]) -> str:
    users = x.node("USERS", (x.leaf("ID", i) for i in member_ids))
    return x.node("GROUP", x.leaf("ID", group.id), x.leaf("NAME", group.name), users)


def group_pool_xml(groups: Iterable[tuple[Group, Sequence[int]]]) -> str:
    return x.node("GROUP_POOL", (group_xml(g, m) for g, m in groups))


def image_xml(image: Image, ids: Ids, vm_ids: Sequence[int] = ()) -> str:
    public = "100" if image.public else "000"
    return x.node(
        "IMAGE",
        owned(image.id, image.owner, image.group, image.name, ids),
        x.permissions("110", public, public),
        x.leaves(
            [
                ("TYPE", 0),  # OS
                ("PERSISTENT", 0),
                ("REGTIME", x.epoch(image.created_at)),
                ("SOURCE", image.path),
                ("PATH", image.source or ""),
                ("FSTYPE", ""),
                ("SIZE", image.size_bytes // (1024 * 1024)),
                ("STATE", IMAGE_STATE_NUMBERS.get(image.state, 5)),
                ("RUNNING_VMS", len(vm_ids)),
            ]
        ),
        x.template("TEMPLATE", image_template(image)),
    )


def image_pool_xml(images: Iterable[Image], ids: Ids) -> str:
    return x.node("IMAGE_POOL", (image_xml(i, ids) for i in images))


def _range(ar: Mapping[str, object]) -> tuple[str, str, int]:
    fields = {str(k).upper(): v for k, v in ar.items()}
    first = ipaddress.IPv4Address(str(fields.get("IP")))
    size = int(str(fields.get("SIZE", 1)))
    return str(first), str(first + size - 1), size


def vnet_xml(net: NetworkRecord, ids: Ids) -> str:
    """One range: RANGED (TYPE 0) with RANGE; several: FIXED (TYPE 1) with their addresses."""
    ranges = [_range(ar) for ar in net.address_ranges if dict(ar).get("IP") or dict(ar).get("ip")]
    fixed = len(ranges) > 1
    body = [
        ("TYPE", 1 if fixed else 0),
        ("BRIDGE", net.bridge),
        ("VLAN", 1 if net.vlan_id else 0),
        ("PHYDEV", ""),
        ("VLAN_ID", net.vlan_id),
    ]
    total = sum(size for _, _, size in ranges)
    parts = [x.leaves(body)]
    if ranges and not fixed:
        parts.append(x.node("RANGE", x.leaves([("IP_START", ranges[0][0]),
                                               ("IP_END", ranges[0][1])])))  # fmt: skip
    parts.append(x.leaf("TOTAL_LEASES", net.used_leases))
    parts.append(x.template("TEMPLATE", {"BRIDGE": net.bridge, **net.attrs}))
    if fixed and total <= 4096:
        leases = []
        for first, _, size in ranges:
            start = ipaddress.IPv4Address(first)
            for offset in range(size):
                ip = start + offset
                mac = "02:00:" + ":".join(f"{b:02x}" for b in ip.packed)
                leases.append(x.node("LEASE", x.leaves([("IP", ip), ("MAC", mac), ("USED", 0),
                                                        ("VID", -1)])))  # fmt: skip
        parts.append(x.node("LEASES", leases))
    return x.node(
        "VNET",
        owned(net.id, net.owner, net.group, net.name, ids),
        x.rights(net.permissions),
        *parts,
    )


def vnet_pool_xml(nets: Iterable[NetworkRecord], ids: Ids) -> str:
    return x.node("VNET_POOL", (vnet_xml(n, ids) for n in nets))


def host_xml(host: HostRecord, last_seen: int = 0) -> str:
    share = x.leaves(
        [
            ("DISK_USAGE", 0),
            ("MEM_USAGE", host.used_mem_kib),
            ("CPU_USAGE", host.used_cpu),
            ("MAX_DISK", 0),
            ("MAX_MEM", host.total_mem_kib),
            ("MAX_CPU", host.total_cpu),
            ("FREE_DISK", 0),
            ("FREE_MEM", max(0, host.total_mem_kib - host.used_mem_kib)),
            ("FREE_CPU", max(0, host.total_cpu - host.used_cpu)),
            ("USED_DISK", 0),
            ("USED_MEM", host.used_mem_kib),
            ("USED_CPU", host.used_cpu),
            ("RUNNING_VMS", host.running_vms),
        ]
    )
    # 3.x host states: 0 INIT, 1 MONITORING, 2 MONITORED, 3 ERROR, 4 DISABLED
    return x.node(
        "HOST",
        x.leaves(
            [
                ("ID", host.id),
                ("NAME", host.name),
                ("STATE", host.state if host.state <= 4 else 3),
                ("IM_MAD", host.im_mad),
                ("VM_MAD", host.vm_mad),
                ("VN_MAD", "bridge"),
                ("TM_MAD", "qcow2"),
                ("LAST_MON_TIME", last_seen),
            ]
        ),
        x.node("HOST_SHARE", share),
        x.template("TEMPLATE", {"HOSTNAME": host.name, **host.attrs}),
    )


def host_pool_xml(hosts: Iterable[HostRecord]) -> str:
    return x.node("HOST_POOL", (host_xml(h) for h in hosts))
