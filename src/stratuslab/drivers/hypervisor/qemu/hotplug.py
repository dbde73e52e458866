"""Disk hot-plug over QMP: blockdev-add + device_add, and device_del + DEVICE_DELETED + blockdev-del.

The driver's record keeps which disks a VM has, their PCI slots and the names the guest gives
them (virtio-blk disks take the lowest free vdX index, as the guest kernel allocates them), so
a resumed VM gets the same devices back and attach/detach are idempotent.

Imports only the standard library, `core` and the driver's own modules.
"""

from __future__ import annotations

import contextlib
import string
from dataclasses import asdict
from typing import Any

from stratuslab.core.errors import DriverError
from stratuslab.core.hypervisor import DiskSpec
from stratuslab.drivers.hypervisor.qemu import cmdline, layout, secrets
from stratuslab.drivers.hypervisor.qemu.qmp import QmpSession

UNPLUG_TIMEOUT = 15.0


def guest_name(index: int) -> str:
    """0 -> vda, 25 -> vdz, 26 -> vdaa (the kernel's sd-style naming)."""
    letters = string.ascii_lowercase
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = letters[rem] + name
    return "vd" + name


def initial_targets(disks: list[DiskSpec]) -> dict[str, str]:
    virtio = [d for d in disks if d.kind != "cdrom"]
    return {d.name: guest_name(i) for i, d in enumerate(virtio)}


def _lowest_free(targets: dict[str, str]) -> str:
    used = set(targets.values())
    i = 0
    while guest_name(i) in used:
        i += 1
    return guest_name(i)


def hotplugged(record: dict[str, Any]) -> list[cmdline.PlacedDisk]:
    return [
        cmdline.PlacedDisk(DiskSpec(**e["disk"]), int(e["index"]), int(e["slot"]))
        for e in record.get("hotplug", [])
    ]


def used_slots(record: dict[str, Any]) -> list[cmdline.PlacedDisk]:
    detached = set(record.get("detached", []))
    boot = [
        cmdline.PlacedDisk(DiskSpec(name=d["name"], source=""), 0, d["slot"])
        for d in record.get("disks", [])
        if d["name"] not in detached
    ]
    return boot + hotplugged(record)


def attach(vm: str, instance: layout.InstanceDir, record: dict[str, Any], disk: DiskSpec,
           machine: str) -> dict[str, Any]:
    """Plug `disk` in; return the record changes (its hot-plug entry and guest name)."""
    if machine != "pc":
        raise DriverError(f"{vm}: disk hot-plug needs machine type pc (this VM uses {machine})",
                          hint="set [qemu] machine = \"pc\"")
    if disk.kind == "cdrom":
        raise DriverError(f"{vm}: a CD-ROM cannot be hot-plugged; give it at start")
    slot = cmdline.free_slot(used_slots(record))
    node = cmdline.node_name(disk.name)
    entries = list(record.get("hotplug", []))
    placed = cmdline.PlacedDisk(disk, 1000 + len(entries), slot)
    with QmpSession(instance.file(layout.QMP_SOCK), vm=vm) as qmp:
        if disk.auth is not None:
            secrets.write(instance, [disk])
            with contextlib.suppress(DriverError):  # left by an earlier plug of this disk
                qmp.cmd("object-del", {"id": cmdline.secret_id(node)})
            qmp.cmd("object-add", cmdline.secret_object(disk))
        qmp.cmd("blockdev-add", cmdline.blockdev(disk, node))
        try:
            qmp.cmd("device_add", cmdline.disk_device(placed, machine, boot_from_disk=False))
        except DriverError:
            with contextlib.suppress(DriverError):
                qmp.cmd("blockdev-del", {"node-name": node})
            raise
    targets = dict(record.get("targets", {}))
    targets[disk.name] = disk.target or _lowest_free(targets)
    entries.append({"disk": asdict(disk), "index": placed.index, "slot": slot})
    detached = [n for n in record.get("detached", []) if n != disk.name]
    return {"hotplug": entries, "targets": targets, "detached": detached}


def detach(vm: str, instance: layout.InstanceDir, record: dict[str, Any], disk_name: str
           ) -> dict[str, Any]:
    """Unplug the disk and wait until the guest released it; return the record changes."""
    node = cmdline.node_name(disk_name)
    device = node + "-dev"
    with QmpSession(instance.file(layout.QMP_SOCK), vm=vm) as qmp:
        try:
            qmp.cmd("device_del", {"id": device})
        except DriverError as exc:
            if "not found" not in str(exc):
                raise
        else:
            if qmp.wait_event("DEVICE_DELETED", UNPLUG_TIMEOUT,
                              lambda e: e.get("data", {}).get("device") == device) is None:
                raise DriverError(
                    f"{vm}: the guest did not release disk {disk_name} within "
                    f"{UNPLUG_TIMEOUT:.0f} s", hint="unmount it in the guest and detach again")
        with contextlib.suppress(DriverError):
            qmp.cmd("blockdev-del", {"node-name": node})
        with contextlib.suppress(DriverError):  # the disk's CHAP secret, if it had one
            qmp.cmd("object-del", {"id": cmdline.secret_id(node)})
    secrets.remove(instance, disk_name)
    targets = {k: v for k, v in record.get("targets", {}).items() if k != disk_name}
    entries = [e for e in record.get("hotplug", []) if e["disk"]["name"] != disk_name]
    detached = list(record.get("detached", []))
    if any(d["name"] == disk_name for d in record.get("disks", [])) and disk_name not in detached:
        detached.append(disk_name)
    return {"hotplug": entries, "targets": targets, "detached": detached}
