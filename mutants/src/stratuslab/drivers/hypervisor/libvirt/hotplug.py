"""Hot-plug of disks and NICs into a running libvirt domain (live only: the driver's domains
are transient, and a saved state carries the live devices with it).

Imports only the standard library, `libvirt`, `core` and `domxml`.
"""

from __future__ import annotations

from typing import Any

import libvirt

from stratuslab.core.errors import DriverError
from stratuslab.core.hypervisor import DiskSpec, NicSpec
from stratuslab.drivers.hypervisor.libvirt import domxml

MAX_TARGETS = 702  # vda … vdzz


def plug_disk(dom: Any, disk: DiskSpec, taken: set[str], machine: str) -> str:
    """Plug `disk` at the first free virtio name; return that name (vdX)."""
    used = taken | set(domxml.disk_targets(dom.XMLDesc(0)))
    dev = next((name for name in map(domxml.target_name, range(MAX_TARGETS)) if name not in used),
               None)
    if dev is None:
        raise DriverError(f"{dom.name()} has no free disk name left; detach a disk first")
    _device(dom, domxml.disk_xml(disk, dev, machine), attach=True, what=f"disk {disk.name}")
    return dev


def unplug_disk(dom: Any, dev: str, disk_name: str) -> None:
    xml = domxml.disk_targets(dom.XMLDesc(0)).get(dev)
    if xml is not None:  # already gone: nothing to do
        _device(dom, xml, attach=False, what=f"disk {disk_name}")


def plug_nic(dom: Any, nic: NicSpec) -> str:
    """Plug a NIC unless one with its MAC is there already; return a stable device id."""
    mac = nic.mac.lower()
    if mac not in domxml.interface_macs(dom.XMLDesc(0)):
        _device(dom, domxml.nic_xml(nic), attach=True, what=f"NIC {mac}")
    return "nic-" + mac.replace(":", "")


def unplug_nic(dom: Any, mac: str) -> None:
    xml = domxml.interface_macs(dom.XMLDesc(0)).get(mac.lower())
    if xml is not None:
        _device(dom, xml, attach=False, what=f"NIC {mac}")


def _device(dom: Any, xml: str, *, attach: bool, what: str) -> None:
    try:
        if attach:
            dom.attachDeviceFlags(xml, libvirt.VIR_DOMAIN_AFFECT_LIVE)
        else:
            dom.detachDeviceFlags(xml, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    except libvirt.libvirtError as exc:
        verb = "plug" if attach else "unplug"
        raise DriverError(f"libvirt could not hot-{verb} {what} of {dom.name()}: {exc}") from exc
