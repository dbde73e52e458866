"""The node this server runs: its hypervisor and instance-storage drivers, chosen by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from stratuslab.core.instance import InstanceStoragePort
from stratuslab.core.node import Node
from stratuslab.drivers.hypervisor import load as load_hypervisor
from stratuslab.drivers.registry import DriverKind, load
from stratuslab.settings import Settings

InstanceStorageFactory = Callable[[str, str], InstanceStoragePort]


def instance_storage(settings: Settings) -> InstanceStoragePort:
    """The node's instance-storage driver, by name (entry point group
    stratuslab.instance_storage), called with (instances_dir, quarantine_dir)."""
    hv = settings.hypervisor
    name = hv.instance_storage or ("simulated" if hv.driver == "simulated" else "file")
    factory = cast(InstanceStorageFactory, load(DriverKind.INSTANCE_STORAGE, name,
                                                setting="hypervisor.instance_storage"))
    data = settings.data_dir
    return factory(str(data / "instances"), str(data / "quarantine"))


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
    elif hv.driver == "libvirt":
        lv = settings.libvirt
        hypervisor = cls(data / "run", host=name, uri=lv.uri, machine=lv.machine,  # type: ignore[call-arg]
                         netns=netns, domain_prefix=lv.domain_prefix,
                         domain_type=lv.domain_type)
    else:
        q = settings.qemu
        hypervisor = cls(data / "run", host=name, accel=q.accel, machine=q.machine,  # type: ignore[call-arg]
                         qemu_binary=q.binary, netns=netns,
                         console_max_bytes=q.console_log_max_bytes)
    return Node(name, hypervisor, instance_storage(settings))
