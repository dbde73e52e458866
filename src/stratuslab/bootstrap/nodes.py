"""The nodes: the one this process runs (its hypervisor and instance-storage drivers, chosen by
name) and, on a front end, the enrolled hosts' agents (`NodeTable`, at the end).

A hypervisor entry point (group stratuslab.hypervisors) names a `HypervisorFactory`: it reads
what it needs from the typed settings and returns the driver.  The built-in factories are below
(one per driver, each calling its own constructor); a third-party package registers its own, and
nothing here changes for it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

from stratuslab.core.instance import InstanceStoragePort
from stratuslab.core.node import Node
from stratuslab.drivers.hypervisor.base import Hypervisor
from stratuslab.drivers.node import AgentTls, connect
from stratuslab.drivers.registry import DriverKind, build
from stratuslab.settings import Settings

log = logging.getLogger(__name__)


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


class NodeTable(Mapping[str, Node]):
    """The nodes a front end drives: its own (in-process drivers, `local`) and every enrolled
    host whose agent reported its address (a `RemoteNode` over mutual TLS, made on first use).
    The hosts table is read at most every `REFRESH_S` seconds; the services, the job runner and
    the reconciler see hosts enrolled after the start without a restart."""

    REFRESH_S = 2.0

    def __init__(self, local: Mapping[str, Node]) -> None:
        self.local = dict(local)
        self._agents: Callable[[], dict[str, str]] = dict
        self._tls: Callable[[], AgentTls] | None = None
        self._remote: dict[str, tuple[str, Node]] = {}
        self._urls: dict[str, str] = {}
        self._read_at = -math.inf
        self._lock = threading.Lock()

    def bind(self, agents: Callable[[], dict[str, str]], tls: Callable[[], AgentTls]) -> None:
        """`agents()`: enrolled host name -> agent URL; `tls()`: this front end's credentials."""
        self._agents, self._tls = agents, tls

    def agent_urls(self) -> dict[str, str]:
        with self._lock:
            if time.monotonic() - self._read_at >= self.REFRESH_S:
                try:
                    self._urls = {n: u for n, u in self._agents().items() if n not in self.local}
                except Exception:  # the database is away: keep what was known
                    log.exception("cannot read the enrolled hosts")
                self._read_at = time.monotonic()
            return dict(self._urls)

    def __getitem__(self, name: str) -> Node:
        if name in self.local:
            return self.local[name]
        url = self.agent_urls().get(name)
        if url is None or self._tls is None:
            raise KeyError(name)
        with self._lock:
            known = self._remote.get(name)
            if known is not None and known[0] == url:
                return known[1]
            node = connect(name, url, self._tls())
            self._remote[name] = (url, node)
        if known is not None:
            _close(known[1])
        return node

    def __iter__(self) -> Iterator[str]:
        return iter([*self.local, *self.agent_urls()])

    def __len__(self) -> int:
        return len(self.local) + len(self.agent_urls())

    def __contains__(self, name: object) -> bool:
        return name in self.local or name in self.agent_urls()

    def close(self) -> None:
        with self._lock:
            remote, self._remote = list(self._remote.values()), {}
        for _url, node in remote:
            _close(node)


def _close(node: Node) -> None:
    close = getattr(node.hypervisor, "close", None)
    if close is not None:
        close()
