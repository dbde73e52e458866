"""The node this server runs: its hypervisor and instance-storage drivers, chosen by name."""

from __future__ import annotations

from typing import Any

from stratuslab.core.node import Node
from stratuslab.drivers.hypervisor import load as load_hypervisor
from stratuslab.drivers.storage.instance import FileInstanceStorage
from stratuslab.drivers.storage.simulated import SimulatedInstanceStorage
from stratuslab.settings import Settings


def make_node(settings: Settings, netns: str | None = None) -> Node:
    data = settings.data_dir
    hv = settings.hypervisor
    cls = load_hypervisor(hv.driver)
    name = settings.server.node_name
    if hv.driver == "simulated":
        fail = {a.strip(): f"simulated {a.strip()} failure (setting hypervisor.simulated_fail)"
                for a in hv.simulated_fail.split(",") if a.strip()}
        hypervisor = cls(data / "simulated", host=name, boot_delay=hv.simulated_boot_delay,  # type: ignore[call-arg]
                         fail=fail)
        storage: Any = SimulatedInstanceStorage(data / "instances", data / "quarantine")
    elif hv.driver == "libvirt":
        lv = settings.libvirt
        hypervisor = cls(data / "run", host=name, uri=lv.uri, machine=lv.machine,  # type: ignore[call-arg]
                         netns=netns, domain_prefix=lv.domain_prefix,
                         domain_type=lv.domain_type)
        storage = FileInstanceStorage(str(data / "instances"), str(data / "quarantine"))
    else:
        q = settings.qemu
        hypervisor = cls(data / "run", host=name, accel=q.accel, machine=q.machine,  # type: ignore[call-arg]
                         qemu_binary=q.binary, netns=netns,
                         console_max_bytes=q.console_log_max_bytes)
        storage = FileInstanceStorage(str(data / "instances"), str(data / "quarantine"))
    return Node(name, hypervisor, storage)
