"""Attack (or accident): the server is killed while it starts a VM — after QEMU was spawned but
before the driver recorded it.  The restarted server knew nothing of that QEMU: an orphan guest
that nothing could stop, using a VM's resources and, when the start was retried, racing a
second QEMU for the same disks.

The driver records its intent before spawning; at start-up it adopts the QEMU that runs in the
instance directory (or forgets a start that never ran), so a retried start finds the VM running
and a kill stops it: no orphan."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
from tests.helpers.waits import wait_until

from stratuslab.core.hypervisor import ObservedState, VmSpec
from stratuslab.drivers import _process
from stratuslab.drivers.hypervisor.qemu import QemuHypervisor

pytestmark = pytest.mark.integration

CHILD = """
import sys
from stratuslab.core.hypervisor import VmSpec
from stratuslab.drivers.hypervisor.qemu import QemuHypervisor
run_dir, instance, qemu = sys.argv[1], sys.argv[2], sys.argv[3]
drv = QemuHypervisor(run_dir, accel="tcg", qemu_binary=qemu)
drv.start(VmSpec(vm_id=5, name="orphan", vcpu=1, memory_mib=64, instance_dir=instance))
print("recorded", flush=True)
import time; time.sleep(600)
"""

#: QEMU as the server spawns it, announcing its spawn and pausing before it starts, so the
#: server can be killed exactly between the spawn and the record (no race with the test)
WRAPPER = """#!{python}
import os, sys, time
open(os.path.join(os.getcwd(), "spawned"), "w").close()
time.sleep(1.0)
os.execvp("qemu-system-x86_64", ["qemu-system-x86_64", *sys.argv[1:]])
"""


def qemus_in(instance: Path) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.readlink(f"/proc/{entry}/cwd") == str(instance):
                if Path(f"/proc/{entry}/cmdline").read_bytes().startswith(b"qemu-system"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def test_server_killed_between_qemu_spawn_and_record_leaves_no_orphan(tmp_path: Path) -> None:
    run_dir, instance = tmp_path / "run", tmp_path / "instances" / "5"
    wrapper = tmp_path / "qemu-system-x86_64"
    wrapper.write_text(WRAPPER.format(python=sys.executable))
    wrapper.chmod(0o755)
    server = _process.spawn([sys.executable, "-c", CHILD, str(run_dir), str(instance),
                             str(wrapper)], stdout_path=str(tmp_path / "child.log"))
    try:
        # the moment QEMU is spawned, the server dies
        wait_until(lambda: (instance / "spawned").exists() or server.poll() is not None,
                   timeout=120, message="the server never spawned QEMU")
        server.send_signal(signal.SIGKILL)
        server.wait(30)
        assert b"recorded" not in (tmp_path / "child.log").read_bytes()
        wait_until(lambda: qemus_in(instance) and (instance / "qemu.pid").exists(), timeout=60,
                   message="QEMU did not survive its server")

        restarted = QemuHypervisor(run_dir, accel="tcg")  # the server's next start
        try:
            assert [o.state for o in restarted.list_vms()] == [ObservedState.RUNNING]
            spec = VmSpec(vm_id=5, name="orphan", vcpu=1, memory_mib=64,
                          instance_dir=str(instance))
            handle = restarted.start(spec)  # the retried deploy step: adopts, spawns nothing
            assert len(qemus_in(instance)) == 1
            restarted.kill(handle)
            assert qemus_in(instance) == []
        finally:
            restarted.close()
    finally:
        if server.poll() is None:
            server.kill()
        for pid in qemus_in(instance):  # never leave a QEMU behind, whatever failed
            os.kill(pid, signal.SIGKILL)
