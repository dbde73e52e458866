"""The scheduler's decision, as Nova and OpenNebula make it: filters remove hosts (each removal
with its reason), a policy ranks the rest.  Pure: hosts and the VM's needs in, a Decision out.

Filters, in order (the first that removes a host gives its reason):
  served        the host is not one this front end serves (another front end places there)
  requested     an administrator's deploy asked for another host
  state         only `monitored` hosts take new VMs
  capacity      free CPUs / memory (total - reserved - allocated) below what the VM needs
  requirements  the VM's requirement expression does not match the host's attributes
Policies: `pack` (fullest first: fewest free CPUs, then memory), `stripe` (emptiest first: most
free CPUs, then memory), `load` (lowest load average first); ties by name.  Standard library only.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from stratuslab.core.errors import InvalidInput
from stratuslab.core.hosts import Host, HostState
from stratuslab.core.requirements import parse

POLICIES = ("pack", "stripe", "load")


@dataclass(frozen=True)
class Needs:
    vm_id: int
    vcpu: int
    memory_mib: int
    requirements: str = ""
    policy: str = "pack"
    requested_host: str | None = None


@dataclass(frozen=True)
class Decision:
    host: str | None
    removed: dict[str, str] = field(default_factory=dict)  # host -> "filter: reason"

    def reason(self, vm_id: int) -> str:
        """One line: why no host was chosen (every host, the filter that removed it)."""
        if not self.removed:
            return f"no host can run VM {vm_id}: there are no hosts"
        why = "; ".join(f"{name}: {r}" for name, r in sorted(self.removed.items()))
        return f"no host can run VM {vm_id}: {why}"


def host_attributes(h: Host) -> dict[str, object]:
    return {**{k.upper(): v for k, v in h.attributes.items()}, "NAME": h.name,
            "STATE": h.state.value, "CPUS": h.cpus, "MEMORY_MIB": h.memory_mib,
            "FREE_CPUS": h.free_cpus, "FREE_MEMORY_MIB": h.free_memory_mib, "LOAD": h.load1,
            "VMS": h.vms}


def policy_of(name: str) -> str:
    if name not in POLICIES:
        raise InvalidInput(f"scheduling policy {name!r} is not one of {', '.join(POLICIES)}",
                           hint="use pack (fill hosts), stripe (spread) or load (least loaded)")
    return name


def decide(hosts: Sequence[Host], needs: Needs, served: Collection[str] | None = None, *,
           overcommit: tuple[float, float] = (1.0, 1.0)) -> Decision:
    """`overcommit`: (CPU, memory) ratios applied to the hosts' totals (16.0: 16 vCPUs per
    processor); the reserved share and the allocation are subtracted after."""
    policy = policy_of(needs.policy)
    cpu_x, mem_x = overcommit

    def free_cpus(h: Host) -> int:
        return int(h.cpus * cpu_x) - h.reserved_cpus - h.allocated_vcpu

    def free_mem(h: Host) -> int:
        return int(h.memory_mib * mem_x) - h.reserved_memory_mib - h.allocated_memory_mib

    matches = parse(needs.requirements)
    removed: dict[str, str] = {}
    left: list[Host] = []
    for h in hosts:
        if served is not None and h.name not in served:
            removed[h.name] = "served: by another front end"
        elif needs.requested_host and h.name != needs.requested_host:
            removed[h.name] = f"requested: the VM asked for host {needs.requested_host}"
        elif h.state is not HostState.MONITORED:
            removed[h.name] = f"state: {h.state.value}"
        elif free_cpus(h) < needs.vcpu:
            removed[h.name] = f"capacity: needs {needs.vcpu} CPUs, {free_cpus(h)} free"
        elif free_mem(h) < needs.memory_mib:
            removed[h.name] = f"capacity: needs {needs.memory_mib} MiB, {free_mem(h)} MiB free"
        elif not matches(host_attributes(h)):
            removed[h.name] = f"requirements: {needs.requirements} not met"
        else:
            left.append(h)
    if not left:
        return Decision(None, removed)
    if policy == "pack":
        left.sort(key=lambda h: (free_cpus(h), free_mem(h), h.name))
    elif policy == "stripe":
        left.sort(key=lambda h: (-free_cpus(h), -free_mem(h), h.name))
    else:
        left.sort(key=lambda h: (h.load1, h.name))
    return Decision(left[0].name, removed)
