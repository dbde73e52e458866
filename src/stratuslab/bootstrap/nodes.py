"""The node this server runs: its hypervisor and instance-storage drivers, chosen by name.

A hypervisor entry point (group stratuslab.hypervisors) names a `HypervisorFactory`: it reads
what it needs from the typed settings and returns the driver.  The built-in factories are below
(one per driver, each calling its own constructor); a third-party package registers its own, and
nothing here changes for it.
"""

from __future__ import annotations

from typing import Protocol

from stratuslab.core.instance import InstanceStoragePort
from stratuslab.core.node import Node
from stratuslab.drivers.hypervisor.base import Hypervisor
from stratuslab.drivers.registry import DriverKind, build
from stratuslab.settings import Settings


class HypervisorFactory(Protocol):
    """What a `stratuslab.hypervisors` entry point names.  `netns`: the data-plane namespace
    guests run in (None: the host's)."""

    def __call__(self, settings: Settings, *, netns: str | None) -> Hypervisor: ...


def simulated(settings: Settings, *, netns: str | None) -> Hypervisor:
    from stratuslab.drivers.hypervisor.simulated import SimulatedHypervisor

    hv = settings.hypervisor
    fail = {a.strip(): f"simulated {a.strip()} failure (setting hypervisor.simulated_fail)"
            for a in hv.simulated_fail.split(",") if a.strip()}
    return SimulatedHypervisor(settings.data_dir / "simulated", host=settings.server.node_name,
                               boot_delay=hv.simulated_boot_delay, fail=fail)


def qemu(settings: Settings, *, netns: str | None) -> Hypervisor:
    from stratuslab.drivers.hypervisor.qemu import QemuHypervisor

    q = settings.qemu
    return QemuHypervisor(settings.data_dir / "run", host=settings.server.node_name,
                          accel=q.accel, machine=q.machine, qemu_binary=q.binary, netns=netns,
                          console_max_bytes=q.console_log_max_bytes)


def libvirt(settings: Settings, *, netns: str | None) -> Hypervisor:
    from stratuslab.drivers.hypervisor.libvirt import LibvirtHypervisor

    lv = settings.libvirt
    return LibvirtHypervisor(settings.data_dir / "run", host=settings.server.node_name,
                             uri=lv.uri, machine=lv.machine, netns=netns,
                             domain_prefix=lv.domain_prefix, domain_type=lv.domain_type)


def instance_storage(settings: Settings) -> InstanceStoragePort:
    """The node's instance-storage driver, by name (entry point group
    stratuslab.instance_storage), called with (instances_dir, quarantine_dir)."""
    hv = settings.hypervisor
    name = hv.instance_storage or ("simulated" if hv.driver == "simulated" else "file")
    data = settings.data_dir
    storage: InstanceStoragePort = build(
        DriverKind.INSTANCE_STORAGE, name, None, str(data / "instances"),
        str(data / "quarantine"), setting="hypervisor.instance_storage")
    return storage


def hypervisor(settings: Settings, netns: str | None = None) -> Hypervisor:
    """The driver `[hypervisor] driver` names (any installed stratuslab.hypervisors entry)."""
    return build(DriverKind.HYPERVISOR, settings.hypervisor.driver, Hypervisor, settings,
                 setting="hypervisor.driver", netns=netns)


def make_node(settings: Settings, netns: str | None = None) -> Node:
    return Node(settings.server.node_name, hypervisor(settings, netns), instance_storage(settings))


BUILT_IN: tuple[HypervisorFactory, ...] = (simulated, qemu, libvirt)  # mypy checks each signature
