"""NIC hot-plug over QMP: netdev_add + device_add, and device_del + DEVICE_DELETED + netdev_del.

A hot-plugged NIC gets exactly the ids and PCI slot a NIC at the same position gets on the
command line (`nicN`, `netN`, slot FIRST_NIC_SLOT + N), and the record keeps the MACs by
position (`nics`), so a VM resumed from its saved state with the NIC in its spec has the same
devices as the one that was suspended.  Imports only the standard library, `core` and the
driver's own modules.
"""

from __future__ import annotations

import contextlib
from typing import Any

from stratuslab.core.errors import DriverError
from stratuslab.core.hypervisor import NicSpec
from stratuslab.drivers.hypervisor.qemu import cmdline, layout
from stratuslab.drivers.hypervisor.qemu.qmp import QmpSession

UNPLUG_TIMEOUT = 15.0


def macs(record: dict[str, Any], vm: str) -> list[str | None]:
    if "nics" not in record:
        raise DriverError(f"{vm} was started before NIC hot-plug was recorded",
                          hint="power it off and on once, then plug the NIC again")
    return list(record["nics"])


def attach(vm: str, instance: layout.InstanceDir, record: dict[str, Any], nic: NicSpec,
           machine: str) -> tuple[str, dict[str, Any]]:
    """Plug `nic` in; return its device id and the record changes."""
    known = macs(record, vm)
    if nic.mac in known:
        return f"nic{known.index(nic.mac)}", {}
    if machine != "pc":
        raise DriverError(f"{vm}: NIC hot-plug needs machine type pc (this VM uses {machine})",
                          hint="set [qemu] machine = \"pc\"")
    index = len(known)
    if index >= cmdline.MAX_NICS:
        raise DriverError(f"{vm} has {index} NICs; the qemu driver supports {cmdline.MAX_NICS}",
                          hint="detach a NIC first")
    dev: dict[str, Any] = {"driver": "virtio-net-pci", "mac": nic.mac, "id": f"nic{index}",
                           "addr": hex(cmdline.FIRST_NIC_SLOT + index)}  # fmt: skip
    with QmpSession(instance.file(layout.QMP_SOCK), vm=vm) as qmp:
        if nic.tap:
            qmp.cmd("netdev_add", {"type": "tap", "id": f"net{index}", "ifname": nic.tap,
                                   "script": "no", "downscript": "no"})  # fmt: skip
            dev["netdev"] = f"net{index}"
        try:
            qmp.cmd("device_add", dev)
        except DriverError:
            if nic.tap:
                with contextlib.suppress(DriverError):
                    qmp.cmd("netdev_del", {"id": f"net{index}"})
            raise
    return f"nic{index}", {"nics": [*known, nic.mac]}


def detach(vm: str, instance: layout.InstanceDir, record: dict[str, Any], mac: str
           ) -> dict[str, Any]:
    """Unplug the NIC with `mac` and wait until the guest let it go; return the record changes."""
    known = macs(record, vm)
    if mac not in known:
        return {}
    index = known.index(mac)
    device = f"nic{index}"
    with QmpSession(instance.file(layout.QMP_SOCK), vm=vm) as qmp:
        try:
            qmp.cmd("device_del", {"id": device})
        except DriverError as exc:
            if "not found" not in str(exc):
                raise
        else:
            if qmp.wait_event("DEVICE_DELETED", UNPLUG_TIMEOUT,
                              lambda e: e.get("data", {}).get("device") == device) is None:
                raise DriverError(f"{vm}: the guest did not release NIC {mac} within "
                                  f"{UNPLUG_TIMEOUT:.0f} s", hint="detach it again")
        with contextlib.suppress(DriverError):
            qmp.cmd("netdev_del", {"id": f"net{index}"})
    known[index] = None
    while known and known[-1] is None:
        known.pop()
    return {"nics": known}
