"""The bytes of a cached marketplace image against its signed checksums, cheaply, at every boot.

A file is hashed once per identity — (device, inode, size, mtime, ctime) — and the result kept in
a stamp beside the cache (`<cache>/.verified/<file>.json`); later boots only `stat` the file and
compare.  Any change of identity (a rewrite, a `touch`, a replacement file) or a stamp older than
`rehash_after_s` makes the next boot hash the file again.  The ctime cannot be set back by a user,
so an edit that restores the mtime is still seen.

Uncompressed images are compared with every checksum of the signed metadata; for an image whose
location is compressed (the signed checksums are those of the compressed bytes) the SHA-256 of
the decompressed file, taken while the verified download was written, is the reference.  A file
that does not match is moved aside into `<cache>/.tampered/` (kept for the administrator) and is
never booted.  Imports core only.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from stratuslab.core.marketplace import MetadataEntry

CHUNK = 4 * 1024 * 1024
STAMPS = ".verified"
ASIDE = ".tampered"
HASHES = {"MD5": "md5", "SHA1": "sha1", "SHA224": "sha224", "SHA256": "sha256",
          "SHA384": "sha384", "SHA512": "sha512"}


def algorithm(name: str) -> str | None:
    """hashlib name of a metadata algorithm name ("SHA-1", "sha256"...), None if unknown."""
    return HASHES.get(name.upper().replace("-", ""))


def digest_file(path: Path, algorithms: Iterable[str]) -> dict[str, str]:
    """hashlib name -> hex digest of the file's bytes (one read for all algorithms)."""
    hashers = {a: hashlib.new(a) for a in algorithms}
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            for h in hashers.values():
                h.update(chunk)
    return {a: h.hexdigest() for a, h in hashers.items()}


@dataclass(frozen=True, slots=True)
class FileIdentity:
    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        st = path.stat()
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class ImageCheck:
    """Verify-once-per-identity of the files of one cache directory."""

    def __init__(self, cache_dir: Path, *, rehash_after_s: float = 7 * 86400,
                 clock: Callable[[], float] = time.time) -> None:
        self.cache_dir = cache_dir
        self.rehash_after_s = rehash_after_s
        self.clock = clock

    def _stamp_path(self, path: Path) -> Path:
        return self.cache_dir / STAMPS / f"{path.name}.json"

    def _read_stamp(self, path: Path) -> dict[str, object]:
        try:
            data = json.loads(self._stamp_path(path).read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def record(self, path: Path, entry: MetadataEntry, content_sha256: str) -> None:
        """After a verified download: the file as written is the reference from now on."""
        stamp = self._stamp_path(path)
        stamp.parent.mkdir(parents=True, exist_ok=True)
        data = {"identifier": entry.identifier, "identity": asdict(FileIdentity.of(path)),
                "content_sha256": content_sha256, "verified_at": self.clock()}
        tmp = stamp.with_name(f".{stamp.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, stamp)

    def problem(self, path: Path, entry: MetadataEntry) -> str | None:
        """None when the file's bytes are what `entry` signs; else why not (nothing is moved)."""
        if not path.is_file():
            return f"cached file {path.name} is missing"
        stamp = self._read_stamp(path)
        identity = FileIdentity.of(path)
        verified_at = stamp.get("verified_at")
        fresh = (stamp.get("identifier") == entry.identifier
                 and stamp.get("identity") == asdict(identity)
                 and isinstance(verified_at, float | int)
                 and self.clock() - float(verified_at) < self.rehash_after_s)
        if fresh:
            return None
        if entry.compression:
            reference = stamp.get("content_sha256") if stamp.get("identifier") == entry.identifier else None
            if not isinstance(reference, str):
                return f"no verified digest of the decompressed {path.name} is recorded"
            content = digest_file(path, ["sha256"])["sha256"]
            if content != reference:
                return (f"SHA-256 of the decompressed image is {content}, its verified download "
                        f"had {reference}")
            self.record(path, entry, content)
            return None
        wanted = {a: c.value.lower() for c in entry.checksums if (a := algorithm(c.algorithm))}
        if not wanted:
            return f"entry {entry.identifier} carries no checksum this node can compute"
        if identity.size != entry.bytes:
            return f"size of {path.name} is {identity.size} bytes, the metadata says {entry.bytes}"
        got = digest_file(path, [*wanted, "sha256"])
        for alg, value in wanted.items():
            if got[alg] != value:
                return f"{alg.upper()} of {path.name} is {got[alg]}, the metadata says {value}"
        self.record(path, entry, got["sha256"])
        return None

    def move_aside(self, path: Path) -> Path | None:
        """Move a refused file out of the cache (kept for inspection); its stamp goes too."""
        aside = self.cache_dir / ASIDE
        aside.mkdir(parents=True, exist_ok=True)
        target = aside / f"{path.name}.{time.strftime('%Y%m%dT%H%M%S')}.{os.getpid()}"
        self._stamp_path(path).unlink(missing_ok=True)
        try:
            os.replace(path, target)
        except FileNotFoundError:
            return None
        return target
