"""OpenNebula XML for VMs: `<VM>` and `<VM_POOL>`, shaped as share/doc/xsd/vm.xsd.

The fields the original StratusLab client reads are always present: STATE, LCM_STATE, UNAME,
TEMPLATE/NIC/IP, TEMPLATE/DISK/SOURCE, HISTORY_RECORDS/HISTORY/HOSTNAME.  What is not a column
of `Vm` comes from `vm.spec` (core/vmspec.py): ``nics`` (list of {network, network_id, ip, mac,
...}), ``disks`` (extra disks: list of {image_id, source, target, ...}), ``context`` and
``user_template`` (mappings), ``prev_state``.  HID is 0 and CPU the vCPU count (no VM records
another); a boot disk whose image the caller cannot see has an empty SOURCE.
Imports only core and this package.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from stratuslab.api.xmlrpc import xmlout as x
from stratuslab.api.xmlrpc.codes import state_numbers
from stratuslab.api.xmlrpc.template import Value
from stratuslab.core.entities import Image, Vm
from stratuslab.core.states import VmState


class Ids(Protocol):
    """Name -> numeric id, for UID/GID (the backend provides it)."""

    def user_id(self, name: str) -> int: ...
    def group_id(self, name: str) -> int: ...


def _disks(vm: Vm, image: Image | None) -> list[dict[str, str]]:
    boot: dict[str, str] = {"DISK_ID": "0", "IMAGE_ID": str(vm.image_id)}
    if image is not None:
        boot.update(
            IMAGE=image.name,
            IMAGE_UNAME=image.owner,
            SOURCE=image.path,
            DRIVER=image.format,
            SIZE=str(image.size_bytes // (1024 * 1024)),
        )
    else:
        boot["SOURCE"] = ""  # the image is not visible to the caller
    boot.update(TARGET="vda", TYPE="FILE", READONLY="NO")
    disks = [boot]
    for index, extra in enumerate(vm.spec.disks, start=1):
        disk = {"DISK_ID": str(index)}
        disk.update({str(k).upper(): str(v) for k, v in dict(extra).items()})
        disks.append(disk)
    return disks


def _nics(vm: Vm) -> list[dict[str, str]]:
    given: list[Mapping[str, Any]] = list(vm.spec.nics)
    if not given and (vm.ip or vm.mac):
        given = [{"network": "public", "ip": vm.ip, "mac": vm.mac, "ip6": vm.ipv6}]
    nics = []
    for index, raw in enumerate(given):
        nic = {"NIC_ID": str(index)}
        nic.update({str(k).upper(): str(v) for k, v in raw.items() if v is not None})
        nic.setdefault("NETWORK", "")
        nic.setdefault("NETWORK_ID", "-1")
        nics.append(nic)
    return nics


def vm_template(vm: Vm, image: Image | None, *, legacy: bool = False) -> list[tuple[str, Value]]:
    """The VM's TEMPLATE; INSTANCE_TYPE only in 3.x shapes (7.x's schema lists what TEMPLATE
    may hold, and it is not among them)."""
    items: list[tuple[str, Value]] = []
    if vm.spec.context:
        items.append(("CONTEXT", {str(k).upper(): str(v) for k, v in vm.spec.context.items()}))
    items.append(("CPU", str(vm.vcpu)))
    items.extend(("DISK", d) for d in _disks(vm, image))
    if legacy:
        items.append(("INSTANCE_TYPE", vm.instance_type))
    items.append(("MEMORY", str(vm.memory_mib)))
    items.extend(("NIC", n) for n in _nics(vm))
    items.append(("TM_MAD_SYSTEM", "qcow2"))
    items.append(("VCPU", str(vm.vcpu)))
    items.append(("VMID", str(vm.id)))
    return items


def _history(vm: Vm, uid: int, gid: int) -> str:
    if not vm.host:
        return x.node("HISTORY_RECORDS")
    start = x.epoch(vm.created_at)
    ended = vm.vm_state is VmState.DONE
    record = x.leaves(
        [
            ("OID", vm.id),
            ("SEQ", 0),
            ("HOSTNAME", vm.host),
            ("HID", 0),
            ("CID", -1),
            ("STIME", start),
            ("ETIME", x.epoch(vm.updated_at) if ended else 0),
            ("VM_MAD", "qemu"),
            ("TM_MAD", "qcow2"),
            ("DS_ID", 0),
            ("PLAN_ID", -1),
            ("ACTION_ID", -1),
            ("PSTIME", start),
            ("PETIME", start),
            ("RSTIME", start),
            ("RETIME", 0),
            ("ESTIME", 0),
            ("EETIME", 0),
            ("ACTION", 0),
            ("UID", uid),
            ("GID", gid),
            ("REQUEST_ID", -1),
        ]
    )
    return x.node("HISTORY_RECORDS", x.node("HISTORY", record))


def _user_value(value: object) -> Value:
    """A user template value as stored: text, or a vector (one.vm.update's A=[B=c])."""
    if isinstance(value, Mapping):
        return {str(k).upper(): str(v) for k, v in value.items()}
    return str(value)


def _previous(vm: Vm, current: tuple[int, int]) -> tuple[int, int]:
    """PREV_STATE/PREV_LCM_STATE: from spec.prev_state (the backend fills it from the
    VM's event log when it knows it), else the current pair."""
    try:
        return state_numbers(VmState(str(vm.spec.prev_state)))
    except (KeyError, ValueError):
        return current


def vm_xml(vm: Vm, ids: Ids, image: Image | None = None) -> str:
    uid, gid = ids.user_id(vm.owner), ids.group_id(vm.group)
    state, lcm = state_numbers(vm.vm_state, vm.last_action)
    prev = _previous(vm, (state, lcm))
    done = vm.vm_state is VmState.DONE
    user_template: dict[str, Value] = {
        str(k).upper(): _user_value(v) for k, v in dict(vm.spec.user_template).items()
    }
    if vm.error:
        user_template["ERROR"] = vm.error
    head = x.leaves(
        [("ID", vm.id), ("UID", uid), ("GID", gid), ("UNAME", vm.owner), ("GNAME", vm.group)]
    )
    body = x.leaves(
        [
            ("LAST_POLL", x.epoch(vm.updated_at)),
            ("STATE", state),
            ("LCM_STATE", lcm),
            ("PREV_STATE", prev[0]),
            ("PREV_LCM_STATE", prev[1]),
            ("RESCHED", 0),
            ("STIME", x.epoch(vm.created_at)),
            ("ETIME", x.epoch(vm.updated_at) if done else 0),
            ("DEPLOY_ID", f"one-{vm.id}" if vm.host else ""),
        ]
    )
    body += x.lock(vm.lock)
    return x.node(
        "VM",
        head,
        x.leaf("NAME", vm.name),
        x.rights(vm.permissions),
        body,
        x.node("MONITORING"),
        x.node("SCHED_ACTIONS"),
        x.template("TEMPLATE", vm_template(vm, image)),
        x.template("USER_TEMPLATE", user_template),
        _history(vm, uid, gid),
        x.node("BACKUPS", x.node("BACKUP_CONFIG"), x.node("BACKUP_IDS")),
    )


def vm_pool_xml(vms: Iterable[Vm], ids: Ids, images: Mapping[int, Image]) -> str:
    return x.node("VM_POOL", (vm_xml(vm, ids, images.get(vm.image_id)) for vm in vms))


def _short_history(vm: Vm) -> str:
    if not vm.host:
        return x.node("HISTORY_RECORDS")
    record = x.leaves(
        [
            ("OID", vm.id),
            ("SEQ", 0),
            ("HOSTNAME", vm.host),
            ("HID", 0),
            ("CID", -1),
            ("DS_ID", 0),
            ("VM_MAD", "qemu"),
            ("TM_MAD", "qcow2"),
            ("ACTION", 0),
        ]
    )
    return x.node("HISTORY_RECORDS", x.node("HISTORY", record))


def vm_short_xml(vm: Vm, ids: Ids, image: Image | None = None) -> str:
    """The reduced VM of 7.x's `one.vmpool.info` (vm_pool.xsd); infoextended has full VMs."""
    state, lcm = state_numbers(vm.vm_state, vm.last_action)
    template: list[tuple[str, Value]] = [
        ("CPU", str(vm.vcpu)),
        ("MEMORY", str(vm.memory_mib)),
        ("VCPU", str(vm.vcpu)),
    ]
    template.extend(("DISK", d) for d in _disks(vm, image))
    template.extend(("NIC", n) for n in _nics(vm))
    return x.node(
        "VM",
        x.leaves(
            [
                ("ID", vm.id),
                ("UID", ids.user_id(vm.owner)),
                ("GID", ids.group_id(vm.group)),
                ("UNAME", vm.owner),
                ("GNAME", vm.group),
                ("NAME", vm.name),
                ("LAST_POLL", x.epoch(vm.updated_at)),
                ("STATE", state),
                ("LCM_STATE", lcm),
                ("RESCHED", 0),
                ("STIME", x.epoch(vm.created_at)),
                ("ETIME", x.epoch(vm.updated_at) if vm.vm_state is VmState.DONE else 0),
                ("DEPLOY_ID", f"one-{vm.id}" if vm.host else ""),
            ]
        ),
        x.template("TEMPLATE", template),
        x.node("MONITORING"),
        x.node("USER_TEMPLATE"),
        _short_history(vm),
    )


def vm_short_pool_xml(vms: Iterable[Vm], ids: Ids, images: Mapping[int, Image]) -> str:
    return x.node("VM_POOL", (vm_short_xml(vm, ids, images.get(vm.image_id)) for vm in vms))
