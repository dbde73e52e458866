"""Extension points of the VM lifecycle, so that networking, volumes and the marketplace plug into
run-instance and the lifecycle without editing the compute service or the executor.

Each hook has a precise transactional contract:
- `validate` runs before any transaction and refuses bad input (no side effect);
- `on_create` runs inside the transaction that creates the VM row (allocate leases, claim
  volumes): if anything raises, nothing of the request remains;
- `before_boot` runs on the node before every boot of the guest from its disks (the deploy's
  prolog, start after poweroff/stop, resume, reboot of a dead guest) and may refuse it by raising
  (the VM then fails with that message); it must be cheap and idempotent;
- `on_prolog` runs on the node before boot and returns the NICs and disks to add to the VM;
  it must be idempotent (a job may run it twice after a crash);
- `on_node_release` runs on the node when the VM ends or its deploy is rolled back (unplug taps,
  unexport LUNs); idempotent;
- `on_finish` runs inside the transaction that moves the VM to `done` or `failed` (release
  leases, detach volumes) so a resource is released exactly once, together with the state change.
"""

from __future__ import annotations

from dataclasses import dataclass

from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import Principal, Vm
from stratuslab.core.hypervisor import DiskSpec, NicSpec
from stratuslab.core.node import Node
from stratuslab.core.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class PrologAdditions:
    nics: tuple[NicSpec, ...] = ()
    disks: tuple[DiskSpec, ...] = ()


class VmExtension:
    """No-op defaults; subclasses override what they need."""

    name = "extension"

    def validate(self, principal: Principal, cmd: RunInstance) -> None:
        return None

    def on_create(self, uow: UnitOfWork, principal: Principal, vm: Vm, cmd: RunInstance) -> None:
        return None

    def before_boot(self, vm: Vm, node: Node) -> None:
        return None

    def on_prolog(self, vm: Vm, node: Node) -> PrologAdditions:
        return PrologAdditions()

    def on_replug(self, vm: Vm, node: Node) -> None:
        """Bring back, on the node, what a running VM needs around it (NICs on their segment with
        their firewall and DHCP entry).  Idempotent; called through LifecycleExecutor.replug by
        every path that brings a VM back to running."""
        return None

    def on_node_release(self, vm: Vm, node: Node) -> None:
        return None

    def on_finish(self, uow: UnitOfWork, vm: Vm, final_state: str) -> None:
        return None
