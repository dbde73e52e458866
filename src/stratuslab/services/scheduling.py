"""Scheduling: pending VMs placed on hosts, with the capacity reserved in the placing transaction.

A placement is one transaction: the pending VMs are locked, one decision (core.scheduler) picks
their hosts, the chosen hosts are locked and their allocation read again (another front end may
have placed VMs there since the decision read them), and each VM that still fits moves
`pending -> prolog` with its host.  The allocation is the sum over the VMs holding a host
(persistence/hosts.py), so a VM that ends, fails or moves frees or moves its share in the
transaction that records it: there is no counter to drift.

A VM no host can take stays `pending`: the reason (which filter removed which host) is its
`error` and an event in its log (a new event only when the reason changes).  The leader's
scheduler loop (`round`) places the VMs left waiting, in one batch, when capacity appears, and
queues their deploy jobs.  Imports core and services only.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection, Sequence
from typing import Any

from stratuslab.core.entities import Job, Vm
from stratuslab.core.hosts import HostState
from stratuslab.core.ports import Clock, Page, UnitOfWork, UnitOfWorkFactory, VmFilter
from stratuslab.core.scheduler import Decision, Free, Needs, decide_batch, policy_of
from stratuslab.core.states import VmAction, VmState
from stratuslab.services.common import record
from stratuslab.services.hosts import REPO

log = logging.getLogger(__name__)

EVENT = "schedule"  # event kind of "no host can run it (yet)"


def batch_tag() -> str:
    return uuid.uuid4().hex


class Scheduler:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, *,
                 served: Collection[str] | None = None, policy: str = "pack",
                 overcommit: tuple[float, float] = (1.0, 1.0),
                 is_leader: Callable[[], bool] = lambda: True, batch_limit: int = 1000) -> None:
        self.uow = uow
        self.clock = clock
        self.served = served  # read at each placement: hosts enrolled later join (NodeTable)
        self.policy = policy_of(policy)
        self.overcommit = overcommit
        self.is_leader = is_leader
        self.batch_limit = batch_limit

    def needs(self, vm: Vm) -> Needs:
        spec = vm.spec
        return Needs(vm.id or 0, vm.vcpu, vm.memory_mib, requirements=spec.requirements,
                     policy=spec.sched_policy or self.policy,
                     requested_host=spec.requested_host or None)

    # -- the executor's hook ------------------------------------------------------------------
    def place(self, vm: Vm) -> bool:
        """A deploy job's placement of `vm` (and of the other pending VMs of its batch) on this
        front end's hosts.  True when the VM left `pending` (placed by us, or with its batch by
        another front end's job: the executor hands the deploy over when the host is not ours)."""
        with self.uow(readonly=True) as uow:
            mates = self._batch_mates(uow, vm)
        self.place_many([vm, *mates], served=None if self.served is None else set(self.served))
        with self.uow(readonly=True) as uow:
            now = uow.vms.get(vm.id or 0)
        return now is None or now.state != VmState.PENDING.value

    def _batch_mates(self, uow: UnitOfWork, vm: Vm) -> list[Vm]:
        tag = vm.spec.batch
        if not tag:
            return []
        pending = uow.vms.list(VmFilter(owner=vm.owner, states=(VmState.PENDING.value,)),
                               Page(0, self.batch_limit))
        return [m for m in pending if m.id != vm.id and m.spec.batch == tag]

    # -- the leader's loop --------------------------------------------------------------------
    def round(self) -> int:
        """Place the VMs left waiting (pending, no job) in one batch and queue their deploys;
        only on the leader.  The number placed."""
        if not self.is_leader():
            return 0
        with self.uow(readonly=True) as uow:
            ids = uow.repo(REPO).waiting(self.batch_limit)
            vms = [vm for vm in (uow.vms.get(i) for i in ids) if vm is not None]
        if not vms:
            return 0
        placed = self.place_many(vms, served=None, queue_jobs=True)
        if placed:
            log.info("scheduler: placed %d waiting VM(s)", len(placed))
        return len(placed)

    # -- one decision, one transaction --------------------------------------------------------
    def place_many(self, vms: Sequence[Vm], *, served: Collection[str] | None,
                   queue_jobs: bool = False) -> dict[int, str]:
        """Place `vms` (pending) in one decision; VM id -> host of those placed.  The others
        stay pending with the reason.  `queue_jobs`: queue a deploy job for each placed VM
        (the loop's VMs have none; a deploy job's own VMs have theirs)."""
        now = self.clock.now()
        with self.uow() as uow:
            repo: Any = uow.repo(REPO)
            still = repo.lock_pending(sorted(vm.id or 0 for vm in vms))
            vms = [vm for vm in vms if vm.id in still]
            batch = [self.needs(vm) for vm in vms]
            decisions = decide_batch(repo.list(), batch, served, overcommit=self.overcommit)
            locked = repo.lock(sorted({d.host for d in decisions if d.host}))
            free = Free(list(locked.values()), self.overcommit)
            placed: list[tuple[Vm, str]] = []
            for vm, needs, decision in zip(vms, batch, decisions, strict=True):
                host = decision.host
                if host is not None and (locked[host].state is not HostState.MONITORED
                                         or free.short(host, needs)):
                    why = free.short(host, needs) or f"state: {locked[host].state.value}"
                    decision = Decision(None, {host: f"{why} (changed while placing)"})
                    host = None
                if host is None:
                    self._unplaced(uow, vm, decision.reason(vm.id or 0), now)
                    continue
                free.take(host, needs)
                placed.append((vm, host))
            repo.place(placed, now)  # the VMs are locked: each move is certain
            for vm, _ in placed if queue_jobs else ():
                uow.jobs.add(Job(None, VmAction.DEPLOY.value, vm.owner, vm_id=vm.id,
                                 created_at=now, updated_at=now))
            uow.commit()
        return {vm.id or 0: host for vm, host in placed}

    @staticmethod
    def _unplaced(uow: UnitOfWork, vm: Vm, reason: str, now: Any) -> None:
        """The VM waits; its log says why (once per distinct reason)."""
        if vm.error == reason:
            return
        uow.vms.cas_state(vm.id or 0, VmState.PENDING.value, VmState.PENDING.value, error=reason,
                          updated_at=now)
        record(uow, vm.id or 0, now, EVENT, "scheduler", f"{reason}; it stays pending until a "
               "host can take it")
