"""The hosts repository: one row per compute node (tables.hosts) with its allocation read from
the VMs that hold capacity on it, and the scheduler's locks.

Reserving capacity: the scheduler locks the pending VMs it places (`lock_pending`), then the
hosts it chose (`lock`, which reads their allocation after the lock): on PostgreSQL a second
placement waits at the host row and then sees the first one's VMs (READ COMMITTED reads what is
committed at each statement); on SQLite the writer's `BEGIN IMMEDIATE` already serializes them.
Always VMs first, then hosts by name, so two placements never deadlock."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, exists, func, select, update

from stratuslab.core.entities import Vm
from stratuslab.core.hosts import Host, HostState
from stratuslab.core.stats import HOLDING
from stratuslab.persistence.tables import hosts, jobs, vm_events, vms

ACTIVE_JOBS = ("queued", "running")

_FIELDS = ("cpus", "memory_mib", "reserved_cpus", "reserved_memory_mib", "load1",
           "memory_available_mib", "version", "front_end", "attributes")


class SqlHostRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _host(self, row: Any, alloc: dict[str, tuple[int, int, int]]) -> Host:
        vcpu, mem, count = alloc.get(row.name, (0, 0, 0))
        return Host(name=row.name, state=HostState(row.state), cpus=row.cpus,
                    memory_mib=row.memory_mib, reserved_cpus=row.reserved_cpus,
                    reserved_memory_mib=row.reserved_memory_mib, load1=row.load1,
                    memory_available_mib=row.memory_available_mib, version=row.version,
                    front_end=row.front_end, attributes=dict(row.attributes or {}),
                    heartbeat_at=row.heartbeat_at, id=row.id, allocated_vcpu=vcpu,
                    allocated_memory_mib=mem, vms=count)

    def _allocation(self, names: list[str] | None = None) -> dict[str, tuple[int, int, int]]:
        q = (select(vms.c.host, func.coalesce(func.sum(vms.c.vcpu), 0),
                    func.coalesce(func.sum(vms.c.memory_mib), 0), func.count())
             .where(vms.c.state.in_(HOLDING), vms.c.host.is_not(None)).group_by(vms.c.host))
        if names is not None:
            q = q.where(vms.c.host.in_(names))
        return {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in self.conn.execute(q)}

    def list(self) -> list[Host]:
        alloc = self._allocation()
        rows = self.conn.execute(select(hosts).order_by(hosts.c.id))
        return [self._host(r, alloc) for r in rows]

    def lock(self, names: builtins.list[str]) -> dict[str, Host]:
        """Lock the rows of `names` (in name order) and read them with their allocation."""
        if not names:
            return {}
        rows = list(self.conn.execute(select(hosts).where(hosts.c.name.in_(names))
                                      .order_by(hosts.c.name).with_for_update()))
        alloc = self._allocation(names)
        return {r.name: self._host(r, alloc) for r in rows}

    def lock_pending(self, vm_ids: builtins.list[int]) -> set[int]:
        """Lock the VMs of `vm_ids` (in id order) that are still pending; their ids."""
        if not vm_ids:
            return set()
        q = (select(vms.c.id).where(vms.c.id.in_(vm_ids), vms.c.state == "pending")
             .order_by(vms.c.id).with_for_update())
        return {int(r[0]) for r in self.conn.execute(q)}

    def place(self, placed: builtins.list[tuple[Vm, str]], now: datetime) -> None:
        """Move the locked pending VMs to prolog on their hosts, each with its event, in two
        statements (a batch of 1,000 VMs is one decision: it is also one round trip each)."""
        if not placed:
            return
        self.conn.execute(
            update(vms).where(and_(vms.c.id == bindparam("vm"), vms.c.state == "pending"))
            .values(state="prolog", host=bindparam("to"), error=None, updated_at=now),
            [{"vm": vm.id, "to": host} for vm, host in placed])
        self.conn.execute(vm_events.insert(), [
            {"vm_id": vm.id, "at": now, "kind": "state", "actor": "system",
             "message": f"{vm.state} -> prolog (scheduled)", "host": host, "ip": vm.ip,
             "mac": vm.mac} for vm, host in placed])

    def waiting(self, limit: int) -> builtins.list[int]:
        """Pending VMs that no job is placing (their deploy found no host): oldest first."""
        busy = exists().where(jobs.c.vm_id == vms.c.id, jobs.c.state.in_(ACTIVE_JOBS))
        q = (select(vms.c.id).where(vms.c.state == "pending", ~busy).order_by(vms.c.id)
             .limit(limit))
        return [int(r[0]) for r in self.conn.execute(q)]

    def get(self, name: str, *, for_update: bool = False) -> Host | None:
        q = select(hosts).where(hosts.c.name == name)
        if for_update:
            q = q.with_for_update()
        row = self.conn.execute(q).first()
        return None if row is None else self._host(row, self._allocation([name]))

    def add(self, host: Host, now: datetime) -> Host:
        values = {f: getattr(host, f) for f in _FIELDS}
        result = self.conn.execute(hosts.insert().values(
            name=host.name, state=host.state.value, heartbeat_at=host.heartbeat_at,
            created_at=now, updated_at=now, **values))
        host.id = result.inserted_primary_key[0] if result.inserted_primary_key else None
        return host

    def update(self, host: Host, now: datetime) -> None:
        values = {f: getattr(host, f) for f in _FIELDS}
        self.conn.execute(hosts.update().where(hosts.c.name == host.name).values(
            state=host.state.value, heartbeat_at=host.heartbeat_at, updated_at=now, **values))

    def set_state(self, name: str, state: HostState, now: datetime) -> bool:
        done = self.conn.execute(hosts.update().where(hosts.c.name == name).values(
            state=state.value, updated_at=now))
        return bool(done.rowcount)

    def delete(self, name: str) -> bool:
        done = self.conn.execute(hosts.delete().where(hosts.c.name == name))
        return bool(done.rowcount)
