"""CHAP passwords of a VM's network disks, as files QEMU reads (`-object secret,file=…`): 0600
in the instance directory, written before QEMU needs them and removed with the disk.  So the
password is never on a command line (`/proc/<pid>/cmdline` is world-readable).

Imports only the standard library, `core` and the driver's own modules.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from stratuslab.core.hypervisor import DiskSpec
from stratuslab.drivers.hypervisor.qemu import cmdline, layout


def path(instance: layout.InstanceDir, disk_name: str) -> str:
    return str(instance.file(cmdline.secret_id(cmdline.node_name(disk_name)) + ".secret"))


def write(instance: layout.InstanceDir, disks: Iterable[DiskSpec]) -> None:
    for disk in disks:
        if disk.auth is None:
            continue
        target = path(instance, disk.name)
        fd = os.open(target + ".part", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(disk.auth.password)
        os.replace(target + ".part", target)


def remove(instance: layout.InstanceDir, disk_name: str) -> None:
    try:
        os.unlink(path(instance, disk_name))
    except FileNotFoundError:
        pass
