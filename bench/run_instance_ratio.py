"""`stratus run-instance` to the guest's ready line, versus a bare qemu-system-x86_64 boot.

Starts an all-in-one server (QEMU, TCG by default) and, alternately, (a) runs the real CLI
`stratus run-instance IMAGE --no-wait` and times until the guest's `stratuslab-ready` line appears
in its console log, and (b) boots the same kernel, initrd and root overlay with a hand-written
qemu command line (bench/boot_ratio.py's baseline).  Prints both medians and the ratio (goal <= 1.10).

    .venv/bin/python bench/run_instance_ratio.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.conftest import Server, free_port

from bench.boot_ratio import bare_boot, prepare, wait_for_ready
from stratuslab.drivers.storage.instance import FileInstanceStorage
from stratuslab.drivers.storage.tinyimage import TinyImageBuilder


def cloud_boot(srv: Server, image: str, n: int) -> float:
    t0 = time.monotonic()
    out = srv.cli("run-instance", image, "--no-wait", "-q", "--ram", "128", "--vm-name", f"b{n}")
    vm_id = out.stdout.split(",")[0].strip()
    console = srv.data_dir / "instances" / vm_id / "console.log"
    try:
        return wait_for_ready(console, t0)
    finally:
        srv.cli("kill-instance", vm_id, check=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    cache = os.environ.get("STRATUSLAB_TEST_CACHE", "/var/tmp/stratuslab-test-cache")
    built = TinyImageBuilder(os.path.join(cache, "images")).build("tiny")
    with tempfile.TemporaryDirectory(prefix="run-ratio-") as tmp:
        work = Path(tmp)
        cfg = work / "cfg.toml"
        cfg.write_text(f'[images]\nbuild_cache = "{cache}/images"\n[qemu]\naccel = "tcg"\n')
        srv = Server(work / "data", free_port(), args=["--config", str(cfg)])
        srv.start()
        storage = FileInstanceStorage(str(work / "bare"), str(work / "bare-q"))
        try:
            image = srv.cli("image", "build", "tiny").stdout.strip()
            bare, ours = [], []
            for n in range(args.rounds):
                bare.append(bare_boot(prepare(storage, built, 100 + n), "tcg"))
                ours.append(cloud_boot(srv, image, n))
                print(f"round {n + 1}: bare {bare[-1]:.2f} s, run-instance {ours[-1]:.2f} s",
                      flush=True)
        finally:
            srv.stop()
            srv.reap()
        b, c = statistics.median(bare), statistics.median(ours)
        print(f"machine: {os.cpu_count()} cores")
        print(f"boot to ready line (tcg, median of {args.rounds}): bare qemu {b:.2f} s, "
              f"stratus run-instance {c:.2f} s, ratio {c / b:.3f} (goal <= 1.10)")


if __name__ == "__main__":
    main()
