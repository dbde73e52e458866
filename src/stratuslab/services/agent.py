"""Both sides of an agent's reports.

On the host, `AgentReporter` pushes a report to the front end every `interval` seconds and at
once after any VM state change the drivers observe (their event sink wakes it): the capacity
and the state of every VM the hypervisor runs, so a front end that was down is re-synced by
the first report it receives.  A front end that does not answer is logged and tried again;
the guests never depend on it.

On the front end, `AgentReports.receive` takes a report from an enrolled host (identified by its
certificate): the host's heartbeat and capacity, and each VM state for VMs placed on that very
host only (a host never changes another host's VM).  Imports core only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from stratuslab.core.errors import InvalidInput
from stratuslab.core.hypervisor import Observation
from stratuslab.core.node import Node
from stratuslab.core.nodewire import AgentReport, FrontEndPort, decode
from stratuslab.core.ports import UnitOfWorkFactory
from stratuslab.core.stats import HostCapacity
from stratuslab.services.enrolment import EnrolmentService
from stratuslab.services.hosts import HostService
from stratuslab.services.periodic import PeriodicWorker

log = logging.getLogger(__name__)

REPORT_INTERVAL = 5.0


class AgentReporter:
    def __init__(self, node: Node, link: FrontEndPort, capacity: Callable[[], HostCapacity],
                 *, version: str, endpoint: str, interval: float = REPORT_INTERVAL) -> None:
        self.node = node
        self.link = link
        self.capacity = capacity
        self.version = version
        self.endpoint = endpoint
        self.worker = PeriodicWorker("agent-report", self.push, interval=interval,
                                     jitter=0.5, run_first=True)
        self.reachable: bool | None = None

    def observed(self, _obs: Observation) -> None:
        """The drivers' event sink: report now."""
        self.worker.wake()

    def push(self) -> None:
        report = AgentReport(self.version, self.endpoint, self.capacity(),
                             tuple(self.node.hypervisor.list_vms()))
        try:
            self.link.report(report)
        except Exception as exc:
            if self.reachable is not False:
                log.warning("cannot report to the front end (guests keep running; will retry): "
                            "%s", exc)
            self.reachable = False
            return
        if self.reachable is False:
            log.info("the front end answers again: re-synced %d VM state(s)", len(report.vms))
        self.reachable = True

    def start(self) -> None:
        self.node.hypervisor.set_event_sink(self.observed)
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()
        self.node.hypervisor.set_event_sink(None)


class AgentReports:
    def __init__(self, uow: UnitOfWorkFactory, enrolment: EnrolmentService, hosts: HostService,
                 observe: Callable[[Observation], None]) -> None:
        self.uow = uow
        self.enrolment = enrolment
        self.hosts = hosts
        self.observe = observe

    def receive(self, chain_der: Sequence[bytes], data: object) -> str:
        """Record a report (JSON, checked after the certificate); returns the host's name."""
        host = self.enrolment.identify(chain_der)
        report: AgentReport = decode(AgentReport, data, "report")
        if not report.endpoint.startswith("https://") or len(report.endpoint) > 256:
            raise InvalidInput(f"host {host} reported the agent address "
                               f"{report.endpoint[:80]!r}, not an https:// URL",
                               hint="start the agent with stratus-node run --listen")
        self.hosts.report(host, report.capacity, version=report.version,
                          endpoint=report.endpoint)
        with self.uow(readonly=True) as uow:
            placed = {obs.vm_id: getattr(uow.vms.get(obs.vm_id), "host", None)
                      for obs in report.vms}
        for obs in report.vms:
            if placed.get(obs.vm_id) != host:
                log.warning("host %s reported VM %s, which is not placed there: ignored",
                            host, obs.vm_id)
                continue
            self.observe(obs)
        return host
