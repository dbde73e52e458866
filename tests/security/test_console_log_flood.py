"""Attack: a guest prints to its serial console without end; QEMU appends it all to the VM's
console log and the node's disk fills up.

The log is bounded (`[qemu] console_log_max_bytes`): past the bound the newest half is kept in
`console.log.1` and `console.log` starts again, while QEMU keeps appending to it."""

from __future__ import annotations

import os
from pathlib import Path

from tests.helpers.waits import wait_until

from stratuslab.drivers import _process
from stratuslab.drivers.hypervisor.qemu import console, layout
from stratuslab.drivers.hypervisor.qemu.watcher import Exit, Watcher

MAX = 4096


def qemu_like_writer(log: Path) -> int:
    """An fd opened as QEMU opens a chardev logfile with logappend=on."""
    return os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


def test_flooded_console_log_stays_bounded_and_keeps_the_newest_output(tmp_path: Path) -> None:
    instance = layout.InstanceDir(tmp_path)
    log = instance.file(layout.CONSOLE_LOG)
    fd = qemu_like_writer(log)
    try:
        for i in range(400):  # 400 KiB of output, 100 times the bound
            os.write(fd, f"line {i:05d} ".encode().ljust(1024, b"x"))
            console.trim(log, MAX)
            assert log.stat().st_size <= MAX + 1024
            assert not console.previous(log).exists() or console.previous(log).stat().st_size <= MAX
    finally:
        os.close(fd)
    kept = console.read(instance)
    assert len(kept) <= 2 * MAX + 1024
    assert kept.endswith(b"x") and b"line 00399" in kept and b"line 00000" not in kept
    assert b"\0" not in kept  # appends after a truncation start the file again: no hole


def test_watcher_of_a_running_vm_trims_its_console_log(tmp_path: Path) -> None:
    instance = layout.InstanceDir(tmp_path)
    log = instance.file(layout.CONSOLE_LOG)
    fake_qemu = _process.spawn(["sleep", "600"])  # stands for the VM's QEMU process
    exits: list[Exit] = []
    watcher = Watcher(7, instance, fake_qemu.pid, proc=fake_qemu, on_exit=exits.append,
                      console_max_bytes=MAX)
    watcher.start()
    fd = qemu_like_writer(log)
    try:
        os.write(fd, b"boot noise " * 4000)  # 44 KB, far past the bound
        wait_until(lambda: console.previous(log).exists() and log.stat().st_size <= MAX,
                   timeout=60, message="the watcher never trimmed console.log")
        assert console.previous(log).stat().st_size <= MAX
    finally:
        os.close(fd)
        fake_qemu.kill()
        watcher.join(30)
    assert exits and exits[0].vm_id == 7
