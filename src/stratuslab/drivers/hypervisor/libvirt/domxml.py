"""Libvirt domain XML for a VM: a pure function of its spec (and of disks plugged later).

Every disk names its format explicitly (`<driver type=…>`), so libvirt and QEMU never probe an
image header; iSCSI volumes become network disks opened by QEMU's own iSCSI client.  The serial
console goes to `console.log` in the instance directory and the tiny guest's agent port is a
virtio-serial channel on `agent.sock` there, exactly as with the qemu driver.

Imports only the standard library and `core`.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from stratuslab.core.errors import InvalidInput
from stratuslab.core.hypervisor import DiskSpec, NicSpec, VmSpec

CONSOLE_LOG = "console.log"
AGENT_SOCK = "agent.sock"
AGENT_PORT = "agent.0"  # the virtio-serial port name the tiny guest's agent listens on
MACHINES = ("pc", "q35")
DEFAULT_CMDLINE = "console=ttyS0 panic=-1"
FORMATS = ("qcow2", "raw")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def target_name(index: int) -> str:
    """vda, vdb, … vdz, vdaa …: the virtio disk names libvirt accepts."""
    letters = ""
    n = index
    while True:
        letters = chr(ord("a") + n % 26) + letters
        n = n // 26 - 1
        if n < 0:
            return "vd" + letters


def cdrom_bus(machine: str) -> str:
    """IDE on pc (the guest's ata_piix), SATA on q35 (which has no IDE)."""
    return "sata" if machine == "q35" else "ide"


def disk_element(disk: DiskSpec, target: str, machine: str = "pc") -> ET.Element:
    if disk.format not in FORMATS:
        raise InvalidInput(f"disk {disk.name}: format {disk.format!r} is not qcow2 or raw")
    cdrom = disk.kind == "cdrom"
    network = disk.source.startswith("iscsi://")
    if "://" in disk.source and not network:
        raise InvalidInput(
            f"disk {disk.name}: source {disk.source!r} is not a file or iscsi:// URI",
            hint="the libvirt driver opens local files and iscsi://host:port/iqn/lun",
        )
    if disk.auth is not None:  # libvirt needs a secret object per volume: not wired yet
        raise InvalidInput(
            f"disk {disk.name}: its iSCSI target requires CHAP, which the libvirt driver does "
            "not pass yet",
            hint="use the qemu hypervisor driver, or set chap = false on that iscsi pool",
        )
    el = ET.Element("disk", {"type": "network" if network else "file",
                             "device": "cdrom" if cdrom else "disk"})
    _sub(el, "driver", name="qemu", type=disk.format)
    if network:
        el.append(_iscsi_source(disk.source))
    else:
        _sub(el, "source", file=os.path.abspath(disk.source))
    if cdrom:
        _sub(el, "target", dev=target, bus=cdrom_bus(machine))
    else:
        _sub(el, "target", dev=target, bus="virtio")
        _sub(el, "serial", disk.name[:20])
    if disk.readonly or cdrom:
        _sub(el, "readonly")
    _sub(el, "alias", name="ua-" + re.sub(r"[^A-Za-z0-9_-]", "_", disk.name))
    return el


def _iscsi_source(uri: str) -> ET.Element:
    parts = urlsplit(uri)
    path = parts.path.strip("/").split("/")
    if not parts.hostname or len(path) != 2 or not path[1].isdigit():
        raise InvalidInput(f"iSCSI source {uri!r} is malformed",
                           hint="write iscsi://host:port/<target iqn>/<lun>")
    src = ET.Element("source", {"protocol": "iscsi", "name": f"{path[0]}/{path[1]}"})
    _sub(src, "host", name=parts.hostname, port=str(parts.port or 3260))
    return src


def nic_element(nic: NicSpec) -> ET.Element:
    """A NIC on the tap the network driver made, or (no data plane) on a tap libvirt makes and
    connects to nothing: the guest sees the NIC and its MAC, and no traffic goes anywhere."""
    el = ET.Element("interface", {"type": "ethernet"})
    _sub(el, "mac", address=nic.mac)
    if nic.tap:
        _sub(el, "target", dev=nic.tap, managed="no")
    _sub(el, "model", type="virtio")
    return el


def targets_of(spec: VmSpec, machine: str = "pc") -> dict[str, str]:
    """Disk name -> device name, in spec order (virtio vdX; CD-ROMs hdc… on IDE, sdX on SATA)."""
    out: dict[str, str] = {}
    disks = [d for d in spec.disks if d.kind != "cdrom"]
    cds = [d for d in spec.disks if d.kind == "cdrom"]
    for i, d in enumerate(disks):
        out[d.name] = target_name(i)
    for i, d in enumerate(cds):
        first = "c" if cdrom_bus(machine) == "ide" else "a"  # hda/hdb: no IDE master on pc CDs
        out[d.name] = ("hd" if cdrom_bus(machine) == "ide" else "sd") + chr(ord(first) + i)
    return out


def domain_xml(spec: VmSpec, *, name: str, machine: str, domain_type: str = "qemu") -> str:
    if machine not in MACHINES:
        raise InvalidInput(f"machine {machine!r} is not supported by the libvirt driver",
                           hint=f"use one of {MACHINES}")
    dom = ET.Element("domain", {"type": domain_type})
    _sub(dom, "name", name)
    _sub(dom, "memory", str(spec.memory_mib), unit="MiB")
    _sub(dom, "vcpu", str(spec.vcpu))
    os_el = _sub(dom, "os")
    _sub(os_el, "type", "hvm", arch="x86_64", machine=machine)
    if spec.boot.kernel:
        _sub(os_el, "kernel", os.path.abspath(spec.boot.kernel))
        if spec.boot.initrd:
            _sub(os_el, "initrd", os.path.abspath(spec.boot.initrd))
        _sub(os_el, "cmdline", spec.boot.cmdline or DEFAULT_CMDLINE)
    else:
        _sub(os_el, "boot", dev="hd")
    features = _sub(dom, "features")
    _sub(features, "acpi")
    _sub(dom, "cpu", mode="custom").append(_model("qemu64"))
    _sub(dom, "on_poweroff", "destroy")
    _sub(dom, "on_reboot", "restart")
    _sub(dom, "on_crash", "destroy")
    devices = _sub(dom, "devices")
    targets = targets_of(spec, machine)
    for disk in spec.disks:
        devices.append(disk_element(disk, targets[disk.name], machine))
    for nic in spec.nics:
        devices.append(nic_element(nic))
    instance = os.path.abspath(spec.instance_dir)
    serial = _sub(devices, "serial", type="file")
    _sub(serial, "source", path=os.path.join(instance, CONSOLE_LOG), append="on")
    _sub(serial, "target", port="0")
    channel = _sub(devices, "channel", type="unix")
    _sub(channel, "source", mode="bind", path=os.path.join(instance, AGENT_SOCK))
    _sub(channel, "target", type="virtio", name=AGENT_PORT)
    _sub(devices, "memballoon", model="none")
    return ET.tostring(dom, encoding="unicode")


def _model(name: str) -> ET.Element:
    el = ET.Element("model", {"fallback": "allow"})
    el.text = name
    return el


def disk_xml(disk: DiskSpec, target: str, machine: str) -> str:
    return ET.tostring(disk_element(disk, target, machine), encoding="unicode")


def nic_xml(nic: NicSpec) -> str:
    return ET.tostring(nic_element(nic), encoding="unicode")


def interface_macs(xml: str) -> dict[str, str]:
    """MAC -> the interface's XML, from a running domain's description."""
    root = ET.fromstring(xml)
    out = {}
    for iface in root.iterfind("./devices/interface"):
        mac = iface.find("mac")
        if mac is not None and mac.get("address"):
            out[mac.get("address", "").lower()] = ET.tostring(iface, encoding="unicode")
    return out


def disk_targets(xml: str) -> dict[str, str]:
    """Device name -> the disk's XML, from a running domain's description."""
    root = ET.fromstring(xml)
    out = {}
    for disk in root.iterfind("./devices/disk"):
        target = disk.find("target")
        if target is not None and target.get("dev"):
            out[target.get("dev", "")] = ET.tostring(disk, encoding="unicode")
    return out
