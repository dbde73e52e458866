"""The scheduler's decision, as Nova and OpenNebula make it: filters remove hosts (each removal
with its reason), a policy ranks the rest.  Pure: hosts and the VM's needs in, a Decision out.

Filters, in order (the first that removes a host gives its reason):
  served        the host is not one this front end serves (another front end places there)
  requested     an administrator's deploy asked for another host
  state         only `monitored` hosts take new VMs
  requirements  the VM's requirement expression does not match the host's attributes
  capacity      free CPUs / memory (total - reserved - allocated) below what the VM needs
Policies: `pack` (fullest first: fewest free CPUs, then memory), `stripe` (emptiest first: most
free CPUs, then memory), `load` (lowest load average first); ties by name.

`decide_batch` places many VMs in one decision: the filters that do not depend on the allocation
run once per kind of VM, then each VM takes the policy's best host from a heap whose keys follow
the allocation made so far (a host that does not fit a VM is dropped for the VMs like it: its
free capacity only shrinks).  Requirement expressions see the hosts as they were at the start of
the decision.  Standard library only.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from stratuslab.core.errors import InvalidInput
from stratuslab.core.hosts import Host, HostState
from stratuslab.core.requirements import parse

POLICIES = ("pack", "stripe", "load")
SHOWN = 10  # a reason names every host up to this many


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
        """One line: why no host was chosen (every host and the filter that removed it; beyond
        SHOWN hosts, per filter: how many hosts and the first few)."""
        if not self.removed:
            return f"no host can run VM {vm_id}: there are no hosts"
        ranked = sorted(self.removed.items())
        if len(ranked) <= SHOWN:
            why = "; ".join(f"{name}: {r}" for name, r in ranked)
            return f"no host can run VM {vm_id}: {why}"
        by_filter: dict[str, list[str]] = {}
        for name, r in ranked:
            by_filter.setdefault(r.split(":", 1)[0], []).append(f"{name}: {r}")
        parts = [f"{f} removed {len(lines)} host(s), e.g. " + "; ".join(lines[:3])
                 for f, lines in sorted(by_filter.items())]
        return f"no host can run VM {vm_id} ({len(ranked)} hosts): " + " | ".join(parts)


def host_attributes(h: Host) -> dict[str, object]:
    return {**{k.upper(): v for k, v in h.attributes.items()}, "NAME": h.name,
            "STATE": h.state.value, "CPUS": h.cpus, "MEMORY_MIB": h.memory_mib,
            "FREE_CPUS": h.free_cpus, "FREE_MEMORY_MIB": h.free_memory_mib, "LOAD": h.load1,
            "VMS": h.vms}


#: OpenNebula's SCHED_RANK expressions for its three classic policies
ONE_RANKS = {"-RUNNING_VMS": "pack", "RUNNING_VMS": "stripe", "FREE_CPU": "load"}


def rank_policy(rank: str) -> str:
    """A VM's --rank / SCHED_RANK: a policy name, or OpenNebula's rank of that policy."""
    text = rank.strip()
    if text.replace(" ", "").upper() in ONE_RANKS:
        return ONE_RANKS[text.replace(" ", "").upper()]
    if text.lower() in POLICIES:
        return text.lower()
    raise InvalidInput(f"rank {rank[:64]!r} is not one of {', '.join(POLICIES)} (or "
                       f"{', '.join(ONE_RANKS)})",
                       hint="use pack (fill hosts), stripe (spread) or load (least loaded)")


def policy_of(name: str) -> str:
    if name not in POLICIES:
        raise InvalidInput(f"scheduling policy {name!r} is not one of {', '.join(POLICIES)}",
                           hint="use pack (fill hosts), stripe (spread) or load (least loaded)")
    return name


class Free:
    """What is left on each host during one decision (the totals scaled by the overcommit)."""

    def __init__(self, hosts: Sequence[Host], overcommit: tuple[float, float]) -> None:
        cpu_x, mem_x = overcommit
        self.cpus = {h.name: int(h.cpus * cpu_x) - h.reserved_cpus - h.allocated_vcpu
                     for h in hosts}
        self.mem = {h.name: int(h.memory_mib * mem_x) - h.reserved_memory_mib
                    - h.allocated_memory_mib for h in hosts}

    def short(self, name: str, needs: Needs) -> str | None:
        """The capacity filter: its reason when `needs` does not fit on `name`."""
        if self.cpus[name] < needs.vcpu:
            return f"capacity: needs {needs.vcpu} CPUs, {self.cpus[name]} free"
        if self.mem[name] < needs.memory_mib:
            return f"capacity: needs {needs.memory_mib} MiB, {self.mem[name]} MiB free"
        return None

    def take(self, name: str, needs: Needs) -> None:
        self.cpus[name] -= needs.vcpu
        self.mem[name] -= needs.memory_mib

    def key(self, policy: str, h: Host) -> tuple[float, int, str]:
        if policy == "pack":
            return (self.cpus[h.name], self.mem[h.name], h.name)
        if policy == "stripe":
            return (-self.cpus[h.name], -self.mem[h.name], h.name)
        return (h.load1, 0, h.name)


def _static(hosts: Sequence[Host], needs: Needs, served: Collection[str] | None,
            removed: dict[str, str]) -> list[Host]:
    """The filters that do not depend on the allocation; `removed` gets their reasons."""
    matches = parse(needs.requirements)
    left: list[Host] = []
    for h in hosts:
        if served is not None and h.name not in served:
            removed[h.name] = "served: by another front end"
        elif needs.requested_host and h.name != needs.requested_host:
            removed[h.name] = f"requested: the VM asked for host {needs.requested_host}"
        elif h.state is not HostState.MONITORED:
            removed[h.name] = f"state: {h.state.value}"
        elif needs.requirements and not matches(host_attributes(h)):
            removed[h.name] = f"requirements: {needs.requirements} not met"
        else:
            left.append(h)
    return left


def decide(hosts: Sequence[Host], needs: Needs, served: Collection[str] | None = None, *,
           overcommit: tuple[float, float] = (1.0, 1.0)) -> Decision:
    """`overcommit`: (CPU, memory) ratios applied to the hosts' totals (16.0: 16 vCPUs per
    processor); the reserved share and the allocation are subtracted after."""
    [one] = decide_batch(hosts, [needs], served, overcommit=overcommit, explain=True)
    return one


def decide_batch(hosts: Sequence[Host], batch: Sequence[Needs],
                 served: Collection[str] | None = None, *,
                 overcommit: tuple[float, float] = (1.0, 1.0),
                 explain: bool = False) -> list[Decision]:
    """One decision for every VM of `batch`, in order: each VM sees the hosts with the VMs
    placed before it; a VM left without a host has every host's reason (a placed one, those of
    the filters that do not depend on the allocation; `explain`: of every filter)."""
    for needs in batch:
        policy_of(needs.policy)
    free = Free(hosts, overcommit)
    kinds: dict[tuple[object, ...], _Kind] = {}
    out: list[Decision] = []
    for needs in batch:
        key = (needs.vcpu, needs.memory_mib, needs.requirements, needs.requested_host,
               needs.policy)
        kind = kinds.get(key)
        if kind is None:
            kind = kinds[key] = _Kind(hosts, needs, served, free)
        chosen = kind.pop(needs, free)
        if chosen is None:
            out.append(Decision(None, {**kind.removed, **{name: free.short(name, needs) or ""
                                                           for name in kind.dropped}}))
            continue
        why = kind.removed
        if explain:
            why = {**why, **{name: free.short(name, needs) or "" for name in kind.dropped}}
        free.take(chosen.name, needs)
        heapq.heappush(kind.heap, (free.key(needs.policy, chosen), chosen.name, chosen))
        out.append(Decision(chosen.name, why))
    return out


class _Kind:
    """The VMs of a batch that need the same: hosts left by the static filters, in a heap by the
    policy's key; a host too small for one of them is too small for all (it only fills up)."""

    def __init__(self, hosts: Sequence[Host], needs: Needs, served: Collection[str] | None,
                 free: Free) -> None:
        self.removed: dict[str, str] = {}
        left = _static(hosts, needs, served, self.removed)
        self.heap = [(free.key(needs.policy, h), h.name, h) for h in left]
        heapq.heapify(self.heap)
        self.dropped: list[str] = []

    def pop(self, needs: Needs, free: Free) -> Host | None:
        while self.heap:
            key, name, h = heapq.heappop(self.heap)
            now = free.key(needs.policy, h)
            if now != key:  # VMs of another kind took from it since it was pushed
                heapq.heappush(self.heap, (now, name, h))
                continue
            if free.short(name, needs) is None:
                return h
            self.dropped.append(name)
        return None
