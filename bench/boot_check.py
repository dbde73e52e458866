"""Boot-time image check cost (issue 27): what `ImageCheck.problem` costs at each boot.

For sparse cache files of 1 GiB and 10 GiB whose verification stamp is current (the file is
unchanged since it was verified), times the check (a stat and a small JSON read) and prints the
10 GiB / 1 GiB ratio, which must stay near 1 (the cost does not grow with the size).  Then times
the re-hash of the 1 GiB file (identity changed, or `rehash_after` passed) and prints it as a
ratio to the unchanged check, and as a ratio to `sha1sum` of the same file in the same run.

    .venv/bin/python bench/boot_check.py [--rounds 200] [--rehash-gib 1]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from stratuslab.core.marketplace import (
    Checksum,
    Endorsement,
    Endorser,
    MetadataEntry,
    sha1_to_identifier,
)
from stratuslab.drivers._process import run
from stratuslab.drivers.storage.imagecheck import ImageCheck, digest_file

GIB = 1024**3


def sparse(path: Path, size: int) -> None:
    with open(path, "wb") as fh:
        fh.truncate(size)


def entry_for(path: Path, size: int, sha1: str) -> MetadataEntry:
    return MetadataEntry(
        identifier=sha1_to_identifier(sha1), bytes=size,
        checksums=(Checksum("SHA-1", sha1),),
        endorsement=Endorsement(datetime.now(UTC), Endorser("bench@example.org")))


def timed(fn: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--rehash-gib", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="boot-check-") as tmp:
        cache = Path(tmp)
        check = ImageCheck(cache, rehash_after_s=3600)
        unchanged = {}
        for gib in (1, 10):
            path = cache / f"img{gib}.raw"
            sparse(path, gib * GIB)
            # the stamp a verified download leaves (the SHA-1 is not computed: not hashed here)
            entry = entry_for(path, gib * GIB, hashlib.sha1(str(gib).encode()).hexdigest())
            check.record(path, entry, "0" * 64)
            assert check.problem(path, entry) is None
            unchanged[gib] = timed(functools.partial(check.problem, path, entry), args.rounds)
            print(f"unchanged {gib:>2} GiB: {unchanged[gib] * 1e6:8.1f} us per boot check")
        print(f"ratio 10 GiB / 1 GiB (unchanged): {unchanged[10] / unchanged[1]:.2f}")

        size = args.rehash_gib * GIB
        path = cache / "rehash.raw"
        sparse(path, size)
        sha1 = digest_file(path, ["sha1"])["sha1"]
        entry = entry_for(path, size, sha1)

        def rehash() -> None:
            os.utime(path)  # a new identity: the next check hashes the file again
            assert check.problem(path, entry) is None

        rehashed = timed(rehash, 3)
        t0 = time.perf_counter()
        run(["sha1sum", str(path)], timeout=600)
        reference = time.perf_counter() - t0
        print(f"re-hash {args.rehash_gib} GiB / unchanged 1 GiB: {rehashed / unchanged[1]:.0f}x")
        print(f"re-hash {args.rehash_gib} GiB / sha1sum of the same file: {rehashed / reference:.2f}")


if __name__ == "__main__":
    main()
