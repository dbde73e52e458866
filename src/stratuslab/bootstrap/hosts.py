"""Wiring of hosts as data: the hosts repository, the HostService over the nodes this front end
serves (the `proc` monitoring driver reads their capacity), its heartbeat worker and
/api/v1/hosts."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter

from stratuslab import __version__
from stratuslab.api.rest import routes_hosts
from stratuslab.bootstrap.wiring import Core, FeatureParts
from stratuslab.drivers.monitoring.proc import host_capacity
from stratuslab.persistence.hosts import SqlHostRepo
from stratuslab.services.hosts import REPO, HostService
from stratuslab.services.periodic import PeriodicWorker

HEARTBEAT_S = 10.0


@dataclass(frozen=True)
class HostsFeature:
    service: HostService
    parts: FeatureParts


def wire(core: Core) -> HostsFeature:
    core.uow.register(REPO, SqlHostRepo)
    service = HostService(core.uow, core.clock, served={name: host_capacity for name in core.nodes},
                          front_end=core.settings.server.node_name, version=__version__)
    service.heartbeat()  # registered before the first request: placement reads the rows
    worker = PeriodicWorker("host-heartbeat", service.heartbeat, interval=HEARTBEAT_S, jitter=1.0)
    api = APIRouter(prefix="/api/v1")
    api.include_router(routes_hosts.router)
    return HostsFeature(service, FeatureParts(routers=(api,), workers=(worker,)))
