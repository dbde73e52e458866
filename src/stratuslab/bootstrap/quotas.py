"""Wiring of compute quotas and capacity admission.

Registers the quota repository (`uow.repo("compute_quotas")`), reads the defaults of `[quotas]`
and the node capacity of `[hypervisor]` (capacity_memory_mib = 0: the machine's physical memory
with a real hypervisor, unlimited with the simulated one), and returns the `ComputeQuotas`
service that ComputeService checks and the REST routes (`services.compute_quotas`) use.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from stratuslab.core.node import Node
from stratuslab.core.quotas import ComputeQuota
from stratuslab.persistence.quotas import REPO, SqlComputeQuotaRepo
from stratuslab.persistence.uow import SqlUnitOfWorkFactory
from stratuslab.services.placement import Placement
from stratuslab.services.quotas import Capacity, ComputeQuotas, QuotaDefaults
from stratuslab.settings import Settings


def _limit(value: int) -> int | None:
    return value or None


def defaults(settings: Settings) -> QuotaDefaults:
    q = settings.quotas
    return QuotaDefaults(
        user=ComputeQuota(_limit(q.user_max_vms), _limit(q.user_max_cpu),
                          _limit(q.user_max_memory_mib), _limit(q.user_max_disk_gb)),
        group=ComputeQuota(_limit(q.group_max_vms), _limit(q.group_max_cpu),
                           _limit(q.group_max_memory_mib), _limit(q.group_max_disk_gb)))


def machine_memory_mib(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def node_capacity(settings: Settings) -> tuple[int | None, int | None]:
    """(vCPUs, MiB) one node holds; None: unlimited."""
    hv = settings.hypervisor
    memory = hv.capacity_memory_mib or None
    if memory is None and hv.driver != "simulated":
        memory = machine_memory_mib()
    return hv.capacity_cpu or None, memory


def wire(settings: Settings, uow: SqlUnitOfWorkFactory, nodes: Mapping[str, Node],
         placement: Placement) -> ComputeQuotas:
    uow.register(REPO, SqlComputeQuotaRepo)
    cpu, memory = node_capacity(settings)

    def capacity() -> Capacity:
        enabled = sum(1 for name in nodes if placement.is_enabled(name))
        return Capacity(cpu=None if cpu is None else cpu * enabled,
                        memory_mib=None if memory is None else memory * enabled,
                        largest_cpu=cpu, largest_memory_mib=memory)

    return ComputeQuotas(uow, defaults=defaults(settings), capacity=capacity)
