"""The qemu-system-x86_64 argument list for a VM: a pure function of its spec and settings.

The same spec always gives the same devices at the same PCI addresses, which is what lets a
suspended VM (and one with hot-plugged disks) be restored into a fresh QEMU.  `-blockdev` and
`-device` take JSON, so file names need no QEMU option escaping.  Paths of sockets and state
files are relative: QEMU runs inside the instance directory.

Imports only the standard library and `core`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from stratuslab.core.errors import InvalidInput
from stratuslab.core.hypervisor import DiskSpec, NicSpec, VmSpec
from stratuslab.drivers.hypervisor.qemu import layout

MACHINES = ("pc", "q35", "microvm")
AGENT_PORT = "agent.0"  # the virtio-serial port name the tiny guest's agent listens on
SERIAL_SLOT = 0x02
FIRST_NIC_SLOT = 0x03
MAX_NICS = 4
FIRST_DISK_SLOT = FIRST_NIC_SLOT + MAX_NICS
LAST_SLOT = 0x1E
DEFAULT_CMDLINE = "console=ttyS0 panic=-1"


@dataclass(frozen=True, slots=True)
class PlacedDisk:
    """A disk with the QEMU ids and PCI slot it gets (hot-plugged disks keep theirs)."""

    disk: DiskSpec
    index: int
    slot: int | None  # None for IDE/SCSI CD-ROMs and on microvm


#: QEMU refuses block node names longer than 31 characters; the protocol node adds "-f"
MAX_NODE_NAME = 31
_NODE_SUFFIX = "-f"


def node_name(disk_name: str) -> str:
    """A QEMU node/device id derived from the disk's stable name (ids allow [A-Za-z0-9_.-]).

    Short names are kept readable (`d-<name>`); a name too long for QEMU's 31-character node
    names (with the protocol node's `-f`) keeps a prefix and gets 8 hex digits of its SHA-1,
    so two long names that share a prefix never collide and the id stays the same across
    restarts (a restored VM finds its hot-plugged disks)."""
    clean = re.sub(r"[^A-Za-z0-9_.-]", "_", disk_name)
    room = MAX_NODE_NAME - len("d-") - len(_NODE_SUFFIX)
    if len(clean) <= room:
        return "d-" + clean
    digest = hashlib.sha1(disk_name.encode()).hexdigest()[:8]
    return f"d-{clean[: room - 9]}-{digest}"


def blockdev(disk: DiskSpec, node: str) -> dict[str, Any]:
    """The blockdev-add / -blockdev tree of a disk: a format node over a protocol node."""
    ro = disk.readonly or disk.kind == "cdrom"
    if disk.source.startswith("iscsi://"):
        proto: dict[str, Any] = iscsi_node(disk.source)
    elif "://" in disk.source:
        raise InvalidInput(
            f"disk {disk.name}: source {disk.source!r} is not a file or iscsi:// URI",
            hint="the qemu driver opens local files and iscsi://host:port/iqn/lun",
        )
    else:
        proto = {"driver": "file", "filename": os.path.abspath(disk.source)}
    if disk.format not in ("qcow2", "raw"):
        raise InvalidInput(f"disk {disk.name}: format {disk.format!r} is not qcow2 or raw")
    if disk.auth is not None:
        if proto["driver"] != "iscsi":
            raise InvalidInput(f"disk {disk.name}: credentials are for iscsi:// sources only")
        proto.update({"user": disk.auth.user, "password-secret": secret_id(node)})
    proto.update({"node-name": node + _NODE_SUFFIX, "read-only": ro})
    return {"driver": disk.format, "node-name": node, "file": proto, "read-only": ro}


def secret_id(node: str) -> str:
    """The QEMU secret object holding a disk's CHAP password (read from `<id>.secret`, a 0600
    file in the instance directory: never on the command line)."""
    return node + "-s"


def secret_object(disk: DiskSpec) -> dict[str, Any]:
    sid = secret_id(node_name(disk.name))
    return {"qom-type": "secret", "id": sid, "file": sid + ".secret", "format": "raw"}


def iscsi_node(uri: str) -> dict[str, Any]:
    """iscsi://host[:port]/<iqn>/<lun> -> QEMU's iscsi protocol driver options."""
    parts = urlsplit(uri)
    path = parts.path.strip("/").split("/")
    if not parts.hostname or len(path) != 2 or not path[1].isdigit():
        raise InvalidInput(
            f"iSCSI source {uri!r} is malformed", hint="write iscsi://host:port/<target iqn>/<lun>"
        )
    portal = f"{parts.hostname}:{parts.port or 3260}"
    return {"driver": "iscsi", "transport": "tcp", "portal": portal, "target": path[0],
            "lun": int(path[1])}


def place_disks(disks: Sequence[DiskSpec], hotplugged: Sequence[PlacedDisk] = ()) -> list[PlacedDisk]:
    placed: list[PlacedDisk] = []
    slot = FIRST_DISK_SLOT
    for index, disk in enumerate(disks):
        if disk.kind == "cdrom":
            placed.append(PlacedDisk(disk, index, None))
            continue
        if slot > LAST_SLOT:
            raise InvalidInput(f"VM has too many disks ({len(disks)}); at most 24 virtio disks")
        placed.append(PlacedDisk(disk, index, slot))
        slot += 1
    return placed + list(hotplugged)


def free_slot(placed: Sequence[PlacedDisk]) -> int:
    used = {p.slot for p in placed}
    for slot in range(FIRST_DISK_SLOT, LAST_SLOT + 1):
        if slot not in used:
            return slot
    raise InvalidInput("no free PCI slot left for another disk; detach one first")


def disk_device(p: PlacedDisk, machine: str, *, boot_from_disk: bool) -> dict[str, Any]:
    node = node_name(p.disk.name)
    if p.disk.kind == "cdrom":
        driver = "scsi-cd" if machine == "microvm" else "ide-cd"
        return {"driver": driver, "drive": node, "id": node + "-dev"}
    dev: dict[str, Any] = {
        "driver": "virtio-blk-device" if machine == "microvm" else "virtio-blk-pci",
        "drive": node,
        "id": node + "-dev",
        "serial": p.disk.name[:20],
    }
    if p.slot is not None and machine != "microvm":
        dev["addr"] = hex(p.slot)
    if boot_from_disk and p.index == 0:
        dev["bootindex"] = 0
    return dev


def nic_args(nics: Sequence[NicSpec], machine: str) -> list[str]:
    if len(nics) > MAX_NICS:
        raise InvalidInput(f"VM has {len(nics)} NICs; the qemu driver supports {MAX_NICS}")
    args: list[str] = []
    for i, nic in enumerate(nics):
        dev: dict[str, Any] = {
            "driver": "virtio-net-device" if machine == "microvm" else "virtio-net-pci",
            "mac": nic.mac,
            "id": f"nic{i}",
        }
        if machine != "microvm":
            dev["addr"] = hex(FIRST_NIC_SLOT + i)
        if nic.tap:  # no tap: the guest sees the NIC (and its MAC) without a data plane
            args += ["-netdev", f"tap,id=net{i},ifname={nic.tap},script=no,downscript=no"]
            dev["netdev"] = f"net{i}"
        args += ["-device", json.dumps(dev)]
    return args


def base_args(spec: VmSpec, *, accel: str, machine: str) -> list[str]:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", spec.name)[:40] or "vm"
    cpu = "host" if accel == "kvm" else ("qemu64,+arat" if machine == "microvm" else "qemu64")
    serial_bus = "virtio-serial-device" if machine == "microvm" else "virtio-serial-pci"
    serial_dev: dict[str, Any] = {"driver": serial_bus, "id": "vser0"}
    if machine != "microvm":
        serial_dev["addr"] = hex(SERIAL_SLOT)
    return [
        "-name", f"guest=stratuslab-{spec.vm_id}-{name}",
        "-nodefaults", "-no-user-config",
        "-machine", machine, "-accel", accel, "-cpu", cpu,
        "-m", str(spec.memory_mib), "-smp", str(spec.vcpu),
        "-display", "none", "-vga", "none",
        "-pidfile", layout.PID_FILE,
        "-qmp", f"unix:{layout.QMP_SOCK},server=on,wait=off",
        "-qmp", f"unix:{layout.EVENTS_SOCK},server=on,wait=off",
        "-chardev", f"socket,id=ser0,path={layout.CONSOLE_SOCK},server=on,wait=off,"
        f"logfile={layout.CONSOLE_LOG},logappend=on",
        "-serial", "chardev:ser0",
        "-chardev", f"socket,id=agent0,path={layout.AGENT_SOCK},server=on,wait=off",
        "-device", json.dumps(serial_dev),
        "-device", json.dumps({"driver": "virtserialport", "bus": "vser0.0",
                               "chardev": "agent0", "name": AGENT_PORT}),
    ]


def build_argv(
    spec: VmSpec,
    *,
    qemu_binary: str,
    accel: str,
    machine: str,
    hotplugged: Sequence[PlacedDisk] = (),
    incoming: str | None = None,
) -> list[str]:
    """Every argument of the QEMU process for `spec` (plus disks hot-plugged since its start)."""
    if machine not in MACHINES:
        raise InvalidInput(f"QEMU machine {machine!r} is not supported", hint=f"use one of {MACHINES}")
    argv = [qemu_binary, *base_args(spec, accel=accel, machine=machine)]
    boot = spec.boot
    if boot.kernel:
        argv += ["-kernel", os.path.abspath(boot.kernel)]
        if boot.initrd:
            argv += ["-initrd", os.path.abspath(boot.initrd)]
        argv += ["-append", boot.cmdline or DEFAULT_CMDLINE]
    placed = place_disks(spec.disks, hotplugged)
    if machine == "microvm" and any(p.disk.kind == "cdrom" for p in placed):
        argv += ["-device", json.dumps({"driver": "virtio-scsi-device", "id": "scsi0"})]
    for p in placed:
        if p.disk.auth is not None:
            argv += ["-object", json.dumps(secret_object(p.disk))]
        argv += ["-blockdev", json.dumps(blockdev(p.disk, node_name(p.disk.name)))]
        argv += ["-device", json.dumps(disk_device(p, machine, boot_from_disk=not boot.kernel))]
    argv += nic_args(spec.nics, machine)
    if incoming:
        argv += ["-S", "-incoming", incoming]
    return argv
