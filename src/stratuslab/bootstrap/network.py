"""Wiring of the network feature into the cloud (see bootstrap.cloud.Wiring).

prepare(): picks the network driver ([network] driver; simulated with the simulated hypervisor,
else bridge) and, for bridge, creates the all-in-one data-plane namespace (w.netns) with its
uplink veth.  A server stop leaves the data plane in place (guests keep their network; the next
start adopts it); `remove_data_plane` (stratus-server remove-data-plane) takes it all away.  wire(): the NetworkRepo in the unit of work,
the default networks, the NetworkExtension (leases and NICs) and NetworkService (REST routes
under ctx.extras["network"]).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import zlib
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError

from stratuslab.bootstrap.wiring import Wiring
from stratuslab.core.errors import Conflict
from stratuslab.persistence.network import SqlNetworkRepo

log = logging.getLogger("stratuslab.server")
DRIVER_KEY = "network.driver"  # w.services key of the node's network driver


def driver_name(w: Wiring) -> str:
    return w.settings.network.driver or (
        "simulated" if w.settings.hypervisor.driver == "simulated" else "bridge"
    )


def netns_name(w: Wiring) -> str:
    return netns_for(w.settings)


def netns_for(settings: Any) -> str:
    """Unique per data directory, so two servers on one machine never share a namespace."""
    if settings.network.netns:
        return str(settings.network.netns)
    return f"sl-{zlib.crc32(str(settings.data_dir.resolve()).encode()):08x}"


def _link_nets(name: str) -> tuple[str, str]:
    """The uplink veth's link-local /30 and ULA /64, also derived from the namespace name."""
    n = zlib.crc32(name.encode()) % (250 * 64)
    v4 = ipaddress.IPv4Network(f"169.254.{1 + n // 64}.{(n % 64) * 4}/30")
    return str(v4), f"fd53:7472:6174:f{n % 4096:03x}::/64"


def off_loop(fn: Callable[[], object]) -> Callable[[], None]:
    """Run `fn` in a thread of its own and wait: netlink calls (pyroute2) refuse to run in a
    thread whose asyncio loop is running, and the server starts and stops inside its loop."""

    def run() -> None:
        errors: list[BaseException] = []

        def target() -> None:
            try:
                fn()
            except BaseException as exc:  # re-raised in the caller's thread
                errors.append(exc)

        t = threading.Thread(target=target, name="network-setup")
        t.start()
        t.join()
        if errors:
            raise errors[0]

    return run


def prepare(w: Wiring) -> None:
    """Choose the data-plane namespace (w.netns) before the node is built."""
    name = driver_name(w)
    if name == "simulated":
        from stratuslab.drivers.network.simulated import SimulatedNetworkDriver

        w.services[DRIVER_KEY] = SimulatedNetworkDriver()
        return
    from stratuslab.drivers.network.bridge import BridgeConfig, BridgeDriver, DataPlaneNamespace

    ns = netns_name(w)
    cfg = w.settings.network
    v4, v6 = _link_nets(ns)
    uplink = DataPlaneNamespace(ns, host_netns=cfg.host_netns or None, link_net=v4, link_net6=v6)
    uplink.create()
    state = str(w.settings.data_dir / "network")
    driver = BridgeDriver(BridgeConfig(state, netns=ns, lease_time=cfg.lease_time), uplink=uplink)
    w.netns = ns
    w.services[DRIVER_KEY] = driver
    w.closers.append(off_loop(driver.detach))
    log.info("network: data plane in namespace %s", ns)


def remove_data_plane(settings: Any) -> str | None:
    """Remove the all-in-one data plane of these settings: every guest, dnsmasq and kernel
    object in its namespace, the uplink veth and this cloud's host routes (not another's).
    Returns the namespace removed, or None when there was none."""
    from stratuslab.drivers.network.bridge import DataPlaneNamespace
    from stratuslab.drivers.network.bridge.namespace import netns_exists

    ns = netns_for(settings)
    if not netns_exists(ns):
        return None
    v4, v6 = _link_nets(ns)
    host = settings.network.host_netns or None
    off_loop(DataPlaneNamespace(ns, host_netns=host, link_net=v4, link_net6=v6).destroy)()
    return ns


def wire(w: Wiring) -> None:
    from stratuslab.api.rest import routes_network
    from stratuslab.services.network import SegmentPool, ensure_default_networks
    from stratuslab.services.network.extension import NetworkExtension
    from stratuslab.services.network.nics import VmNics
    from stratuslab.services.network.resync import resync_data_plane
    from stratuslab.services.network.service import REPO, NetworkService

    cfg = w.settings.network
    pool = SegmentPool.parse(cfg.segment_kind, cfg.segment_pool)
    w.uow.register(REPO, SqlNetworkRepo)
    for attempt in range(3):  # front ends starting together: the one that lost sees the rows
        try:
            with w.uow() as uow:
                made = ensure_default_networks(uow.repo(REPO), dict(cfg.classes), pool)
                uow.commit()
            break
        except (Conflict, IntegrityError):
            if attempt == 2:
                raise
    for network in made:
        log.info("network: created %s (%s)", network.name, network.subnet)
    driver = w.services[DRIVER_KEY]
    drivers = {name: driver for name in w.nodes}
    service = NetworkService(w.uow, pool, lease_quota=cfg.lease_quota,
                             user_max_networks=cfg.user_max_networks)  # fmt: skip
    ext = NetworkExtension(w.uow, w.clock, drivers, default_network=cfg.default_network,
                           quota=service.quota_for)  # fmt: skip
    service.apply_live = ext.apply_live
    service.remove_segment = ext.remove_segment
    w.extensions.append(ext)
    w.services["network"] = service
    w.services["vm_nics"] = VmNics(w.uow, w.clock, ext, w.nodes, quota=service.quota_for)
    w.routers.append(routes_network.router)
    w.workers.append((off_loop(lambda: resync_data_plane(w.uow, driver)), lambda: None))
