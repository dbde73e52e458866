"""Compute use cases: run instances, list and show them, accept lifecycle actions, manage them.

Each accepted request records the desired state and a job in one transaction and returns at once;
the job runner (services.jobs) carries the job out through the lifecycle executor.  Quotas and
capacity (services.quotas) are checked in the transaction that adds or grows VMs.

- `rules.py`: instance types and the checks of a run-instance request;
- `base.py`: reading a VM, lifecycle actions, the one-transaction change helper;
- `manage.py`: rename, resize, chown, user template, hosts, deploy, migrate;
- `service.py`: `ComputeService` (run, listings, console, events, jobs).
"""

from stratuslab.services.compute.rules import MAX_COUNT, MAX_CPU, MAX_RAM_MIB, InstanceTypes
from stratuslab.services.compute.service import ComputeService

__all__ = ["MAX_COUNT", "MAX_CPU", "MAX_RAM_MIB", "ComputeService", "InstanceTypes"]
