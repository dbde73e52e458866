"""Suspend to a file and resume from it: QEMU's migration stream written to the instance dir.

Suspending pauses the guest, streams its memory and device state with `migrate` to
`exec:cat > FILE` (QEMU runs in the instance directory, so FILE is a plain relative name), and
only renames the partial file into place once QEMU reports the migration `completed`, so a
half-written state is never resumed.  Resuming starts QEMU with the same devices, `-S` and
`-incoming "exec:cat FILE"`, waits until the state is loaded, then continues the guest.

Imports only the standard library, `core` and the driver's own modules.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import time

from stratuslab.core.errors import DriverError
from stratuslab.drivers.hypervisor.qemu import layout
from stratuslab.drivers.hypervisor.qemu.qmp import QmpSession

SAVE_TIMEOUT = 300.0
LOAD_TIMEOUT = 120.0
PARTIAL = layout.STATE_FILE + ".part"


def incoming_uri() -> str:
    return f"exec:cat {shlex.quote(layout.STATE_FILE)}"


def save_state(vm: str, instance: layout.InstanceDir, *, timeout: float = SAVE_TIMEOUT) -> None:
    """Write the running VM's state to the saved-state file; the guest stays paused after."""
    instance.file(PARTIAL).unlink(missing_ok=True)
    with QmpSession(instance.file(layout.QMP_SOCK), vm=vm) as qmp:
        qmp.cmd("stop")
        try:
            qmp.cmd("migrate", {"uri": f"exec:cat > {shlex.quote(PARTIAL)}"})
            deadline = time.monotonic() + timeout
            while True:
                info = qmp.cmd("query-migrate")
                status = info.get("status")
                if status == "completed":
                    break
                if status in ("failed", "cancelled"):
                    raise DriverError(
                        f"{vm}: saving its memory failed: {info.get('error-desc', status)}",
                        hint="the VM keeps running; check free space in its instance directory",
                    )
                if time.monotonic() > deadline:
                    qmp.cmd("migrate_cancel")
                    raise DriverError(f"{vm}: saving its memory took over {timeout:.0f} s")
                time.sleep(0.05)
        except DriverError:
            with contextlib.suppress(DriverError):
                qmp.cmd("cont")
            instance.file(PARTIAL).unlink(missing_ok=True)
            raise
    os.replace(instance.file(PARTIAL), instance.file(layout.STATE_FILE))


def finish_restore(vm: str, instance: layout.InstanceDir, *, timeout: float = LOAD_TIMEOUT) -> None:
    """Wait until a QEMU started with -incoming has loaded the state, then run the guest."""
    with QmpSession(instance.file(layout.QMP_SOCK), vm=vm) as qmp:
        deadline = time.monotonic() + timeout
        while True:
            status = qmp.cmd("query-status").get("status")
            if status != "inmigrate":
                break
            if time.monotonic() > deadline:
                raise DriverError(f"{vm}: loading its saved memory took over {timeout:.0f} s")
            time.sleep(0.05)
        if status == "running":
            return
        migrated = qmp.cmd("query-migrate")
        if migrated.get("status") == "failed":
            raise DriverError(f"{vm}: its saved memory could not be loaded: "
                              f"{migrated.get('error-desc', 'unknown error')}")
        qmp.cmd("cont")
