"""Boot time through the qemu driver versus a bare qemu-system-x86_64, and overlay creation time.

1. Boots the tiny guest (same kernel, initrd, root overlay, NoCloud seed, memory, machine and
   accelerator) alternately through `QemuHypervisor.start()` and as a bare `qemu-system-x86_64`
   writing its serial console to a file, timing each from the call to the guest's
   `stratuslab-ready` line.  Prints the medians and the ratio driver / bare (goal <= 1.10).
2. Times `qemu-img create -f qcow2 -b BASE` for a 1 GiB and a 10 GiB sparse raw base image and
   prints both and their ratio (a copy-on-write overlay should not depend on the base's size).

    .venv/bin/python bench/boot_ratio.py [--rounds 3] [--accel tcg]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

from stratuslab.core.hypervisor import BootSpec, VmSpec
from stratuslab.core.imagebuild import BuiltImage
from stratuslab.core.instance import ContextSpec, PrologRequest
from stratuslab.drivers import _process
from stratuslab.drivers.hypervisor.qemu import QemuHypervisor
from stratuslab.drivers.storage.instance import FileInstanceStorage
from stratuslab.drivers.storage.tinyimage import TinyImageBuilder

READY = re.compile(rb"^stratuslab-ready hostname=", re.MULTILINE)
TIMEOUT = 240.0


def wait_for_ready(console: Path, t0: float) -> float:
    while time.monotonic() - t0 < TIMEOUT:
        if console.exists() and READY.search(console.read_bytes()):
            return time.monotonic() - t0
        time.sleep(0.02)
    raise SystemExit(f"no ready line in {console} after {TIMEOUT:.0f} s")


def prepare(storage: FileInstanceStorage, image: BuiltImage, vm_id: int) -> VmSpec:
    boot = BootSpec(image.kernel, image.initrd, image.cmdline)
    prepared = storage.prepare(PrologRequest(
        vm_id=vm_id, name=f"bench{vm_id}", image_path=image.path, image_format=image.format,
        boot=boot, context=ContextSpec(instance_id=f"vm-{vm_id}", hostname=f"bench{vm_id}")))
    return VmSpec(vm_id=vm_id, name=f"bench{vm_id}", vcpu=1, memory_mib=128,
                  instance_dir=prepared.instance_dir, disks=prepared.disks, boot=prepared.boot)


def bare_argv(spec: VmSpec, accel: str, console: Path) -> list[str]:
    """The minimal hand-written command line for the same guest (lab.md's recipe)."""
    boot = spec.boot
    assert boot.kernel and boot.initrd and boot.cmdline
    argv = ["qemu-system-x86_64", "-nodefaults", "-no-user-config", "-machine", "pc",
            "-accel", accel, "-m", str(spec.memory_mib), "-smp", "1", "-display", "none",
            "-vga", "none", "-serial", f"file:{console}", "-kernel", boot.kernel,
            "-initrd", boot.initrd, "-append", boot.cmdline]
    for n, disk in enumerate(spec.disks):
        ro = ",read-only=on" if disk.readonly or disk.kind == "cdrom" else ""
        argv += ["-blockdev", f"driver=file,filename={disk.source},node-name=f{n}{ro}",
                 "-blockdev", f"driver={disk.format},file=f{n},node-name=d{n}{ro}",
                 "-device", f"{'ide-cd' if disk.kind == 'cdrom' else 'virtio-blk-pci'},drive=d{n}"]
    return argv


def bare_boot(spec: VmSpec, accel: str) -> float:
    console = Path(spec.instance_dir) / "bare-console.log"
    console.unlink(missing_ok=True)
    t0 = time.monotonic()
    proc = _process.spawn(bare_argv(spec, accel, console))
    try:
        return wait_for_ready(console, t0)
    finally:
        proc.kill()
        proc.wait(timeout=30)


def driver_boot(driver: QemuHypervisor, spec: VmSpec) -> float:
    console = Path(spec.instance_dir) / "console.log"
    console.unlink(missing_ok=True)
    t0 = time.monotonic()
    handle = driver.start(spec)
    try:
        return wait_for_ready(console, t0)
    finally:
        driver.kill(handle)


def overlay_times(work: Path, sizes_gib: tuple[int, ...], reps: int = 5) -> dict[int, float]:
    out = {}
    for gib in sizes_gib:
        base = work / f"base-{gib}g.raw"
        with open(base, "wb") as f:
            f.truncate(gib * 1024**3)  # sparse
        samples = []
        for i in range(reps):
            dest = work / f"overlay-{gib}-{i}.qcow2"
            t0 = time.perf_counter()
            _process.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "raw",
                          str(dest)], timeout=60)
            samples.append(time.perf_counter() - t0)
            dest.unlink()
        out[gib] = statistics.median(samples)
        base.unlink()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--accel", default="tcg", choices=("tcg", "kvm", "auto"))
    args = parser.parse_args()
    cache = os.environ.get("STRATUSLAB_TEST_CACHE", "/var/tmp/stratuslab-test-cache")
    image = TinyImageBuilder(os.path.join(cache, "images")).build("tiny")
    with tempfile.TemporaryDirectory(prefix="boot-ratio-") as tmp:
        work = Path(tmp)
        storage = FileInstanceStorage(str(work / "instances"), str(work / "quarantine"))
        driver = QemuHypervisor(work / "run", accel=args.accel)
        accel = driver.accel.resolve(image.kernel)
        bare, ours = [], []
        try:
            for n in range(args.rounds):
                bare.append(bare_boot(prepare(storage, image, 100 + n), accel))
                ours.append(driver_boot(driver, prepare(storage, image, 200 + n)))
                print(f"round {n + 1}: bare {bare[-1]:.2f} s, driver {ours[-1]:.2f} s", flush=True)
        finally:
            driver.close()
        b, d = statistics.median(bare), statistics.median(ours)
        print(f"boot to ready line ({accel}, median of {args.rounds}): bare qemu {b:.2f} s, "
              f"qemu driver {d:.2f} s, ratio {d / b:.3f} (goal <= 1.10)")
        times = overlay_times(work, (1, 10))
        print(f"qcow2 overlay creation: 1 GiB base {times[1] * 1000:.1f} ms, 10 GiB base "
              f"{times[10] * 1000:.1f} ms, ratio {times[10] / times[1]:.2f}")


if __name__ == "__main__":
    main()
