"""The reconciler: compares the VMs the database wants with what nodes observe.

Node events (QMP SHUTDOWN, process exit) arrive through `observe`; a periodic `sync` compares
every node's full list.  A running VM whose guest powered off becomes `poweroff`; one whose
process vanished becomes `unknown` (never silently `stopped`); a VM a node runs but the database
has finished is an orphan and is killed.  VMs with an active job are left to that job.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from stratuslab.core.hypervisor import Observation, ObservedState, VmHandle
from stratuslab.core.node import Node
from stratuslab.core.ports import Clock, Page, UnitOfWorkFactory, VmFilter
from stratuslab.core.states import VmState
from stratuslab.services.lifecycle import record_observation
from stratuslab.services.periodic import PeriodicWorker

log = logging.getLogger(__name__)

WATCHED = (VmState.RUNNING.value, VmState.UNKNOWN.value)


class Reconciler:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, nodes: Mapping[str, Node], *,
        interval: float = 10.0,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.nodes = nodes
        self.worker = PeriodicWorker("reconciler", self.sync, interval=interval, run_first=True)

    def observe(self, obs: Observation) -> None:
        """Called from driver watcher threads."""
        try:
            with self.uow() as uow:
                vm = uow.vms.get(obs.vm_id)
                if vm is None or uow.jobs.active_for_vm(obs.vm_id) is not None:
                    return
                if record_observation(uow, vm, obs.state, obs.reason, self.clock.now()):
                    uow.commit()
        except Exception:
            log.exception("cannot record observation %s", obs)

    def sync(self) -> None:
        for name, node in self.nodes.items():
            try:
                seen = {o.vm_id: o for o in node.hypervisor.list_vms()}
            except Exception:
                log.exception("node %s did not answer list_vms", name)
                continue
            with self.uow(readonly=True) as uow:
                vms = uow.vms.list(VmFilter(states=WATCHED), Page(0, 100_000))
                known = {vm_id: uow.vms.get(vm_id) for vm_id in seen}
            for vm in vms:
                if vm.host != name or vm.id is None:
                    continue
                obs = seen.get(vm.id, Observation(vm.id, ObservedState.MISSING))
                self.observe(obs)
            for vm_id in seen:
                found = known.get(vm_id)
                if found is None or found.state == VmState.DONE.value:
                    log.warning("node %s runs VM %s that the cloud has finished: killing it", name, vm_id)
                    try:
                        node.hypervisor.kill(VmHandle(vm_id, name, {}))
                    except Exception:
                        log.exception("cannot kill orphan VM %s on %s", vm_id, name)

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()
