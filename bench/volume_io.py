"""Benchmark: a persistent volume over iSCSI (tgt + QEMU's iSCSI client) against the same file
read and written on the host, in the same run; and the latency of exporting/attaching it.

    .venv/bin/python bench/volume_io.py [--size-mib 256] [--repeat 3] [--guest]

Throughput is sequential, 1 MiB requests, O_DIRECT on the host side (`dd oflag=direct`,
`qemu-img bench -t none`).  iSCSI is measured with `qemu-img bench` on the `iscsi://` URL from
the host (QEMU's own block layer, what a guest's disk goes through), and with `--guest` from
inside a tiny guest with `dd` on the hot-plugged disk when the QEMU driver is available.
Prints MiB/s and the ratio iSCSI / host.  Starts its own tgtd on loopback and stops it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid as uuidlib
from collections.abc import Callable

from stratuslab.core.hypervisor import BootSpec, DiskSpec, VmSpec
from stratuslab.core.instance import ContextSpec, PrologRequest
from stratuslab.core.volumes import disk_name_for
from stratuslab.drivers import _process
from stratuslab.drivers.hypervisor.guestagent import run_in_guest
from stratuslab.drivers.hypervisor.qemu import QemuHypervisor
from stratuslab.drivers.storage.instance import FileInstanceStorage
from stratuslab.drivers.storage.tinyimage import TinyImageBuilder
from stratuslab.drivers.storage.volumes import IscsiBackend, build_backend

CACHE = os.environ.get("STRATUSLAB_TEST_CACHE", "/var/tmp/stratuslab-test-cache")


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_control_port() -> int:
    for port in range(27100, 27200):
        if not os.path.exists(f"/var/run/tgtd/socket.{port}"):
            return port
    raise SystemExit("no free tgtd control port in 27100-27199")


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median wall-clock seconds of `repeat` runs."""
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def dd_write(path: str, mib: int) -> None:
    _process.run(
        ["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={mib}", "oflag=direct",
         "conv=notrunc,fsync"], timeout=600,
    )  # fmt: skip


def dd_read(path: str, mib: int) -> None:
    _process.run(
        ["dd", f"if={path}", "of=/dev/null", "bs=1M", f"count={mib}", "iflag=direct"],
        timeout=600,
    )


def qemu_bench(target: str, mib: int, *, write: bool) -> None:
    argv = ["qemu-img", "bench", "-q", "-f", "raw", "-t", "none", "-s", "1M", "-c", str(mib)]
    argv += ["-d", "4"]
    if write:
        argv += ["-w", "--pattern=90"]
    _process.run([*argv, target], timeout=600)


def attach_latency(backend: IscsiBackend, uuid: str, repeat: int) -> tuple[float, float]:
    """Median seconds to export (tgtadm target + LUN + ACL) and to export plus a first I/O by
    QEMU's iSCSI client (login, inquiry, read of one sector)."""
    export_only: list[float] = []
    first_io: list[float] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        source = backend.export(uuid)
        t1 = time.perf_counter()
        _process.run(["qemu-io", "-f", "raw", "-r", source, "-c", "read 0 512"], timeout=60)
        t2 = time.perf_counter()
        backend.unexport(uuid)
        export_only.append(t1 - t0)
        first_io.append(t2 - t0)
    return statistics.median(export_only), statistics.median(first_io)


def in_guest(agent: str, command: str) -> float:
    """Seconds the guest took to run `command` (measured on the host, agent round trip
    included: a few ms against seconds of I/O)."""
    t0 = time.perf_counter()
    rc, out = run_in_guest(agent, command, timeout=600)
    if rc != 0:
        raise SystemExit(f"guest command failed: {command}: {out}")
    return time.perf_counter() - t0


def guest_rows(
    backend: IscsiBackend, uuid: str, size_mib: int, repeat: int, work: str
) -> tuple[dict[str, float], float]:
    """Boot one tiny guest, hot-plug the volume over iSCSI, time dd inside it; return the rows
    and the hot-plug latency (QMP attach until the guest shows the disk)."""
    image = TinyImageBuilder(os.path.join(CACHE, "images")).build("tiny")
    storage = FileInstanceStorage(os.path.join(work, "instances"), os.path.join(work, "q"))
    boot = BootSpec(image.kernel, image.initrd, image.cmdline)
    prepared = storage.prepare(PrologRequest(
        vm_id=1, name="bench", image_path=image.path, image_format=image.format, boot=boot,
        context=ContextSpec(instance_id="vm-1", hostname="bench"),
    ))  # fmt: skip
    spec = VmSpec(vm_id=1, name="bench", vcpu=1, memory_mib=256,
                  instance_dir=prepared.instance_dir, disks=prepared.disks, boot=prepared.boot)  # fmt: skip
    driver = QemuHypervisor(os.path.join(work, "run"), accel="tcg", machine="pc")
    handle = driver.start(spec)
    try:
        deadline = time.monotonic() + 300
        while b"stratuslab-ready" not in driver.console_log(handle):
            if time.monotonic() > deadline:
                raise SystemExit("the bench guest did not boot")
            time.sleep(0.2)
        agent = str(handle.data["agent_socket"])
        t0 = time.perf_counter()
        disk = DiskSpec(disk_name_for(uuid), backend.export(uuid), format="raw")
        dev = driver.attach_disk(handle, disk)
        while run_in_guest(agent, f"test -e /sys/block/{dev}")[0] != 0:
            time.sleep(0.02)
        plug_s = time.perf_counter() - t0
        write = f"dd if=/dev/zero of=/dev/{dev} bs=1M count={size_mib} conv=fsync 2>/dev/null"
        read = (f"echo 3 > /proc/sys/vm/drop_caches; "
                f"dd if=/dev/{dev} of=/dev/null bs=1M count={size_mib} 2>/dev/null")  # fmt: skip
        rows = {
            "guest dd write (iscsi)": statistics.median(
                in_guest(agent, write) for _ in range(repeat)
            ),
            "guest dd read (iscsi)": statistics.median(
                in_guest(agent, read) for _ in range(repeat)
            ),
        }
        driver.detach_disk(handle, disk.name)
        return rows, plug_s
    finally:
        driver.kill(handle)
        driver.close()


def run(size_mib: int, repeat: int, guest: bool) -> None:
    work = tempfile.mkdtemp(prefix="stratuslab-bench-")
    table = {
        "backend": "iscsi",
        "path": os.path.join(work, "san"),
        "portal": f"127.0.0.1:{free_tcp_port()}",
        "control_port": free_control_port(),
    }
    backend = build_backend("bench", table, data_dir=work)
    assert isinstance(backend, IscsiBackend)
    try:
        uuid = str(uuidlib.uuid4())
        path = backend.create(uuid, 1)
        dd_write(path, size_mib)  # allocate the blocks so that reads measure real data
        source = backend.export(uuid)
        rows = {
            "host dd write": timed(lambda: dd_write(path, size_mib), repeat),
            "host dd read": timed(lambda: dd_read(path, size_mib), repeat),
            "host qemu-img write": timed(lambda: qemu_bench(path, size_mib, write=True), repeat),
            "host qemu-img read": timed(lambda: qemu_bench(path, size_mib, write=False), repeat),
            "iscsi qemu-img write": timed(lambda: qemu_bench(source, size_mib, write=True), repeat),
            "iscsi qemu-img read": timed(lambda: qemu_bench(source, size_mib, write=False), repeat),
        }
        backend.unexport(uuid)
        export_s, first_io_s = attach_latency(backend, uuid, max(repeat, 5))
        plug_s = None
        if guest:
            more, plug_s = guest_rows(backend, uuid, size_mib, repeat, work)
            rows.update(more)
    finally:
        backend.stop()
        shutil.rmtree(work, ignore_errors=True)
    report(rows, size_mib, repeat, export_s, first_io_s)
    if plug_s is not None:
        for op in ("write", "read"):
            ratio = rows[f"host dd {op}"] / rows[f"guest dd {op} (iscsi)"]
            print(f"  ratio guest-over-iscsi/host dd {op}: {ratio:.2f}")
        print(f"hot-plug latency (export + QMP attach until the guest sees the disk): "
              f"{plug_s * 1000:.0f} ms")  # fmt: skip


def report(
    rows: dict[str, float], size_mib: int, repeat: int, export_s: float, first_io_s: float
) -> None:
    print(f"sequential 1 MiB I/O on a {size_mib} MiB volume, median of {repeat} runs")
    for name, seconds in rows.items():
        print(f"  {name:<24} {size_mib / seconds:9.1f} MiB/s  ({seconds:.3f} s)")
    for op in ("write", "read"):
        iscsi = rows[f"iscsi qemu-img {op}"]
        print(
            f"  ratio iscsi/host {op}:  vs dd {rows[f'host dd {op}'] / iscsi:.2f}"
            f"   vs qemu-img on the file {rows[f'host qemu-img {op}'] / iscsi:.2f}"
        )
    print(f"attach latency: export {export_s * 1000:.1f} ms; export + first I/O by QEMU's "
          f"iSCSI client {first_io_s * 1000:.1f} ms")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--guest", action="store_true", help="also measure from a tiny guest (QEMU, TCG)"
    )
    args = parser.parse_args(argv)
    run(args.size_mib, args.repeat, args.guest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
