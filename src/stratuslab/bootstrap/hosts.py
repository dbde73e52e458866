"""Wiring of hosts as data: the hosts repository, the HostService over the nodes this front end
serves (the `proc` monitoring driver reads their capacity), its heartbeat worker and
/api/v1/hosts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter

from stratuslab import __version__
from stratuslab.api.rest import routes_enrolment, routes_hosts
from stratuslab.bootstrap.wiring import Core, FeatureParts
from stratuslab.drivers import _process
from stratuslab.drivers.monitoring.proc import host_capacity
from stratuslab.drivers.node import AgentTls
from stratuslab.drivers.pki import CloudCA
from stratuslab.persistence.enrolment import SqlEnrolmentRepo
from stratuslab.persistence.hosts import SqlHostRepo
from stratuslab.services import enrolment
from stratuslab.services.enrolment import EnrolmentService
from stratuslab.services.hostfailure import HostFailures
from stratuslab.services.hosts import REPO, HostService
from stratuslab.services.periodic import PeriodicWorker
from stratuslab.settings import Settings, parse_duration

HEARTBEAT_S = 10.0


def ca_dir(settings: Settings) -> Path:
    """Where `stratus-server ca init` keeps the cloud CA and the front end's certificate."""
    return settings.data_dir / "ca"


@dataclass(frozen=True)
class HostsFeature:
    service: HostService
    enrolment: EnrolmentService
    parts: FeatureParts
    failures: HostFailures


def wire(core: Core) -> HostsFeature:
    core.uow.register(REPO, SqlHostRepo)
    core.uow.register(enrolment.REPO, SqlEnrolmentRepo)
    authority = CloudCA(ca_dir(core.settings))
    enrol = EnrolmentService(core.uow, core.clock, authority)
    core.nodes.bind(enrol.agents, lambda: AgentTls(authority.dir / "ca.pem",
                                                   *authority.front_end_files()))
    service = HostService(core.uow, core.clock,
                          served={name: host_capacity for name in core.nodes.local},
                          front_end=core.settings.server.node_name, version=__version__)
    service.heartbeat()  # registered before the first request: placement reads the rows
    worker = PeriodicWorker("host-heartbeat", service.heartbeat, interval=HEARTBEAT_S, jitter=1.0)
    sched = core.settings.scheduler
    failures = HostFailures(core.uow, core.clock, service, fence=fence,
                            timeout=timedelta(seconds=parse_duration(sched.host_timeout)),
                            fence_command=sched.fence_command,
                            fence_timeout=parse_duration(sched.fence_timeout),
                            is_leader=core.leader.is_leader)
    service.recovery = failures.recover
    watch = PeriodicWorker("host-failures", failures.round, interval=HEARTBEAT_S, jitter=1.0)
    api = APIRouter(prefix="/api/v1")
    api.include_router(routes_hosts.router)
    api.include_router(routes_enrolment.router)
    return HostsFeature(service, enrol, FeatureParts(routers=(api,), workers=(worker, watch)),
                        failures)


def fence(argv: Sequence[str], timeout: float) -> None:
    """A site's fencing command (argv, no shell); its failure (exit status, stderr) raises."""
    _process.run(argv, timeout=timeout)
