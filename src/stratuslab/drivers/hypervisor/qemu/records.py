"""What the qemu driver's on-disk record of a VM means: its observed state, what an exit meant,
and how a start interrupted between spawning QEMU and recording it ends after a restart.

Imports only the standard library, `core` and the driver's own modules.
"""

from __future__ import annotations

import logging
from typing import Any

from stratuslab.core.hypervisor import Observation, ObservedState
from stratuslab.drivers.hypervisor.qemu import layout
from stratuslab.drivers.hypervisor.qemu.watcher import Exit

log = logging.getLogger(__name__)

_OBSERVED = {
    layout.RUNNING: ObservedState.RUNNING,
    layout.SUSPENDED: ObservedState.SUSPENDED,
    layout.SHUTOFF: ObservedState.SHUTOFF,
    layout.CRASHED: ObservedState.CRASHED,
}


def finish_start(
    vm_id: int, instance: layout.InstanceDir, record: dict[str, Any]
) -> dict[str, Any]:
    """A start interrupted after its intent was recorded: the QEMU it spawned (found by its
    pid file, checked to run in this directory) is adopted; without one, the start failed."""
    pid = layout.read_pid(instance)
    if layout.qemu_pid_alive(pid, instance.path):
        record.update(state=record.get("then") or layout.RUNNING, pid=pid)
    else:
        record.update(
            state=layout.CRASHED, pid=None, reason="the start was interrupted before QEMU ran"
        )
    instance.write_record(record)
    log.info("VM %s: interrupted start found at start-up: %s", vm_id, record["state"])
    return record


def observe(vm_id: int, instance: layout.InstanceDir) -> Observation:
    record = instance.read_record()
    if record is None:
        return Observation(vm_id, ObservedState.MISSING)
    state = record.get("state", layout.CRASHED)
    if state in (layout.RUNNING, layout.STOPPING, layout.SUSPENDING, layout.RESUMING):
        if layout.qemu_pid_alive(record.get("pid"), instance.path):
            return Observation(vm_id, ObservedState.RUNNING)
        if (
            state in (layout.SUSPENDING, layout.RESUMING)
            and instance.file(layout.STATE_FILE).exists()
        ):
            return Observation(vm_id, ObservedState.SUSPENDED)
        if state == layout.RUNNING:  # died while nobody watched (e.g. the node was down)
            reason = "QEMU ended while the driver was not watching"
            instance.update_record(state=layout.CRASHED, reason=reason, pid=None)
            return Observation(vm_id, ObservedState.CRASHED, reason)
        return Observation(vm_id, ObservedState.SHUTOFF, "interrupted while stopping")
    return Observation(vm_id, _OBSERVED.get(state, ObservedState.CRASHED), record.get("reason", ""))


def exit_meaning(exit_: Exit) -> tuple[ObservedState, str]:
    if exit_.shutdown is not None:
        if exit_.shutdown.get("guest"):
            return ObservedState.SHUTOFF, "the guest powered itself off"
        cause = exit_.shutdown.get("reason", "unknown")
        return ObservedState.SHUTOFF, f"QEMU was stopped on the host ({cause})"
    if exit_.returncode == 0:
        return ObservedState.SHUTOFF, "QEMU exited normally"
    if exit_.returncode is None:
        return ObservedState.CRASHED, "QEMU died unexpectedly"
    if exit_.returncode < 0:
        return ObservedState.CRASHED, f"QEMU was killed by signal {-exit_.returncode}"
    return ObservedState.CRASHED, f"QEMU died unexpectedly (exit {exit_.returncode})"
