"""Building unsigned metadata entries from image bytes (what `stratus build-metadata` does).

Checksums are of the bytes as they are stored at the location (compressed if the file is), which is
what the fetcher verifies on download.  Pure logic over a binary stream: imports core only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import BinaryIO

from stratuslab.core.marketplace import (
    Checksum,
    Endorsement,
    Endorser,
    MetadataEntry,
    sha1_to_identifier,
)

ALGORITHMS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-512": "sha512"}
DEFAULT_VALIDITY = timedelta(days=182)
CHUNK = 1024 * 1024


def digest_stream(stream: BinaryIO, algorithms: Sequence[str] = tuple(ALGORITHMS)) -> tuple[int, tuple[Checksum, ...]]:
    """Read `stream` to the end; return (size, checksums) for the named algorithms (SHA-1 always)."""
    names = list(dict.fromkeys(["SHA-1", *algorithms]))
    hashers = {name: hashlib.new(ALGORITHMS[name]) for name in names}
    size = 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        for h in hashers.values():
            h.update(chunk)
    return size, tuple(Checksum(name, hashers[name].hexdigest()) for name in names)


def compression_of(filename: str) -> str:
    for suffix, name in ((".gz", "gz"), (".bz2", "bz2"), (".xz", "xz")):
        if filename.endswith(suffix):
            return name
    return ""


def format_of(filename: str) -> str:
    base = filename
    for suffix in (".gz", ".bz2", ".xz"):
        base = base.removesuffix(suffix)
    if base.endswith(".qcow2"):
        return "qcow2"
    if base.endswith(".iso"):
        return "raw"
    return "raw"


def new_entry(
    size: int,
    checksums: tuple[Checksum, ...],
    *,
    email: str,
    now: datetime,
    validity: timedelta = DEFAULT_VALIDITY,
    **fields: object,
) -> MetadataEntry:
    """An unsigned entry: the endorsement has the email only until it is signed."""
    sha1 = next(c.value for c in checksums if c.algorithm == "SHA-1")
    entry = MetadataEntry(
        identifier=sha1_to_identifier(sha1),
        bytes=size,
        checksums=checksums,
        endorsement=Endorsement(now.replace(microsecond=0), Endorser(email=email)),
        valid_until=(now + validity).replace(microsecond=0),
    )
    return replace(entry, **fields)  # type: ignore[arg-type]
