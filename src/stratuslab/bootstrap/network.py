"""Wiring of the network feature into the cloud (a typed result with its FeatureParts, see bootstrap/wiring.py).

prepare(): builds the data plane with the factory the network driver name picks ([network]
driver; simulated with the simulated hypervisor, else bridge; entry point group
stratuslab.network_drivers); `bridge` creates the all-in-one data-plane namespace with its uplink veth
(a `DataPlane`, made before the node's hypervisor, which runs guests in that namespace).  A
server stop leaves the data plane in place (guests keep their network; the next start adopts
it); `remove_data_plane` (stratus-server remove-data-plane) takes it all away.  wire(): the NetworkRepo in the unit of work, the default
networks, the NetworkExtension (leases and NICs), NetworkService and VmNics (a
`NetworkFeature`), the REST routes, and the data-plane resync when the server starts.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from stratuslab.bootstrap.wiring import Core, DataPlane, DataPlaneFactory, FeatureParts
from stratuslab.core.errors import Conflict
from stratuslab.core.network import NetworkDriverPort
from stratuslab.drivers.registry import DriverKind, build
from stratuslab.persistence.network import SqlNetworkRepo
from stratuslab.services.network.nics import NIC_ATTACH_JOB, NIC_DETACH_JOB, VmNics
from stratuslab.services.network.service import NetworkService
from stratuslab.settings import Settings

log = logging.getLogger("stratuslab.server")


def driver_name(settings: Settings) -> str:
    return settings.network.driver or (
        "simulated" if settings.hypervisor.driver == "simulated" else "bridge"
    )


def netns_for(settings: Settings) -> str:
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


@dataclass(frozen=True)
class NetworkFeature:
    service: NetworkService
    nics: VmNics
    driver: NetworkDriverPort
    parts: FeatureParts


def prepare(settings: Settings) -> DataPlane:
    """The data plane, made before the node is built, by the factory `[network] driver` names
    (any installed stratuslab.network_drivers entry; empty: simulated with the simulated
    hypervisor, else bridge)."""
    return build(DriverKind.NETWORK, driver_name(settings), DataPlane, settings,
                 setting="network.driver")


def simulated(settings: Settings) -> DataPlane:
    """The `simulated` network driver: no kernel objects, guests in the host's namespace."""
    from stratuslab.drivers.network.simulated import SimulatedNetworkDriver

    return DataPlane(SimulatedNetworkDriver(), None)


def bridge(settings: Settings) -> DataPlane:
    """The `bridge` network driver in the all-in-one data-plane namespace with its uplink."""
    from stratuslab.drivers.network.bridge import BridgeConfig, BridgeDriver, DataPlaneNamespace

    ns = netns_for(settings)
    cfg = settings.network
    v4, v6 = _link_nets(ns)
    uplink = DataPlaneNamespace(ns, host_netns=cfg.host_netns or None, link_net=v4, link_net6=v6)
    uplink.create()
    state = str(settings.data_dir / "network")
    driver = BridgeDriver(BridgeConfig(state, netns=ns, lease_time=cfg.lease_time), uplink=uplink)
    log.info("network: data plane in namespace %s", ns)
    return DataPlane(driver, ns, closers=(off_loop(driver.detach),))


BUILT_IN: tuple[DataPlaneFactory, ...] = (simulated, bridge)  # mypy checks each signature


def remove_data_plane(settings: Settings) -> str | None:
    """Remove the all-in-one data plane of these settings: the iSCSI targets and tgtd of the
    pools inside it, every guest, dnsmasq and kernel object in its namespace, the uplink veth
    and this cloud's host routes (not another's).  Returns the namespace removed, or None when
    there was none."""
    from stratuslab.bootstrap.storage import stop_data_plane_targets
    from stratuslab.drivers.network.bridge import DataPlaneNamespace
    from stratuslab.drivers.network.bridge.namespace import netns_exists

    ns = netns_for(settings)
    for pool in stop_data_plane_targets(settings, ns):
        log.info("storage: pool %s: targets removed, tgtd stopped", pool)
    if not netns_exists(ns):
        return None
    v4, v6 = _link_nets(ns)
    host = settings.network.host_netns or None
    off_loop(DataPlaneNamespace(ns, host_netns=host, link_net=v4, link_net6=v6).destroy)()
    return ns


def wire(core: Core, plane: DataPlane) -> NetworkFeature:
    from stratuslab.api.rest import routes_network
    from stratuslab.services.network import SegmentPool, ensure_default_networks
    from stratuslab.services.network.extension import NetworkExtension
    from stratuslab.services.network.resync import resync_data_plane
    from stratuslab.services.network.service import REPO

    cfg = core.settings.network
    pool = SegmentPool.parse(cfg.segment_kind, cfg.segment_pool)
    core.uow.register(REPO, SqlNetworkRepo)
    for attempt in range(3):  # front ends starting together: the one that lost sees the rows
        try:
            with core.uow() as uow:
                made = ensure_default_networks(uow.repo(REPO), dict(cfg.classes), pool)
                uow.commit()
            break
        except (Conflict, IntegrityError):
            if attempt == 2:
                raise
    for network in made:
        log.info("network: created %s (%s)", network.name, network.subnet)
    driver = plane.driver
    drivers = {name: driver for name in core.nodes}
    service = NetworkService(core.uow, pool, lease_quota=cfg.lease_quota,
                             user_max_networks=cfg.user_max_networks)  # fmt: skip
    ext = NetworkExtension(core.uow, core.clock, drivers, default_network=cfg.default_network,
                           quota=service.quota_for)  # fmt: skip
    service.apply_live = ext.apply_live
    service.remove_segment = ext.remove_segment
    service.apply_segment = ext.apply_segment
    nics = VmNics(core.uow, core.clock, ext, core.nodes, quota=service.quota_for,
                  wake=core.wake_jobs)
    parts = FeatureParts(
        extensions=(ext,),
        routers=(routes_network.router,),
        job_handlers={NIC_ATTACH_JOB: nics.run_attach, NIC_DETACH_JOB: nics.run_detach},
        on_start=(off_loop(lambda: resync_data_plane(core.uow, driver)),),
        closers=plane.closers,
    )
    return NetworkFeature(service, nics, driver, parts)
