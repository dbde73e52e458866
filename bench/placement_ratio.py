"""Placing 1,000 VMs over 250 and over 2,500 rows of the hosts table (SQLite, as the simulated
cloud uses it): each placement reads the hosts with their allocation from the database
(HostService.list, the query Placement runs) and runs the scheduler's filters and policy
(core.scheduler.decide).  Prints the time per placement for both sizes and their ratio (the cost
should grow no faster than the number of hosts: ratio <= 10).

The chosen host's allocation is kept in memory between placements (no VM rows are written), so
this measures the scheduler's read and decision, not the VM's deploy.

    .venv/bin/python bench/placement_ratio.py [--vms 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from stratuslab.core.hosts import Host, HostState
from stratuslab.core.scheduler import Needs, decide
from stratuslab.persistence import db
from stratuslab.persistence.hosts import SqlHostRepo
from stratuslab.persistence.uow import SqlUnitOfWorkFactory
from stratuslab.services.common import SystemClock
from stratuslab.services.hosts import REPO, HostService


def run(hosts: int, vms: int, where: Path) -> float:
    engine = db.make_engine(f"sqlite:///{where / f'h{hosts}.db'}")
    db.upgrade(engine)
    uow = SqlUnitOfWorkFactory(engine)
    uow.register(REPO, SqlHostRepo)
    now = datetime.now(UTC)
    with uow() as u:
        for n in range(hosts):
            u.repo(REPO).add(Host(name=f"node-{n:05d}", state=HostState.MONITORED, cpus=32,
                                  memory_mib=131072, load1=(n % 7) / 7, heartbeat_at=now,
                                  attributes={"ARCH": "x86_64"}), now)
        u.commit()
    service = HostService(uow, SystemClock())
    extra: dict[str, tuple[int, int]] = {}
    t0 = time.perf_counter()
    for vm in range(vms):
        rows = service.list()
        for h in rows:
            cpu, mem = extra.get(h.name, (0, 0))
            h.allocated_vcpu += cpu
            h.allocated_memory_mib += mem
        d = decide(rows, Needs(vm, 2, 2048, requirements='ARCH = "x86*"', policy="stripe"))
        if d.host is None:
            raise SystemExit(d.reason(vm))
        cpu, mem = extra.get(d.host, (0, 0))
        extra[d.host] = (cpu + 2, mem + 2048)
    elapsed = time.perf_counter() - t0
    engine.dispose()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vms", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sl-bench-place-") as tmp:
        small = run(250, args.vms, Path(tmp))
        large = run(2500, args.vms, Path(tmp))
    print(f"{'hosts':>6} {'VMs':>6} {'total s':>9} {'ms/VM':>8}")
    for n, t in ((250, small), (2500, large)):
        print(f"{n:>6} {args.vms:>6} {t:>9.2f} {1000 * t / args.vms:>8.2f}")
    print(f"ratio 2500/250 hosts: {large / small:.2f} (hosts x10; goal <= 10)")


if __name__ == "__main__":
    main()
