"""Building unsigned metadata entries from image bytes (what `stratus build-metadata` does).

Checksums are of the bytes as they are stored at the location (compressed if the file is), which is
what the fetcher verifies on download; the compression recorded is the one the file's own bytes
show, and a location naming another one is refused.  Pure logic over a binary stream: imports core only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import BinaryIO
from urllib.parse import urlsplit

from stratuslab.core.errors import InvalidInput
from stratuslab.core.marketplace import (
    Checksum,
    Endorsement,
    Endorser,
    MetadataEntry,
    sha1_to_identifier,
)

#: the first bytes of each compression the cloud's fetcher expands, and the tool that makes it
MAGIC = ((b"\x1f\x8b", "gz"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz"))
TOOLS = {"gz": "gzip", "bz2": "bzip2", "xz": "xz"}
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


def compression_of_bytes(head: bytes) -> str:
    """The compression a file's first bytes show: gz, bz2, xz, or "" (none of these)."""
    return next((name for magic, name in MAGIC if head.startswith(magic)), "")


def compression_for(filename: str, head: bytes, locations: Sequence[str]) -> str:
    """The compression to record for the file `filename` starting with `head`, served at
    `locations`: the file's own (its bytes are what the locations serve and what the size and
    checksums describe).  A location whose name says another compression cannot serve these
    bytes: refused, naming the command that makes the file it should describe."""
    actual = compression_of_bytes(head)
    for location in locations:
        named = compression_of(urlsplit(location).path)
        if named and named != actual:
            what = f"is {actual}-compressed" if actual else "is not compressed"
            hint = (f"describe the file that location serves: {TOOLS[named]} -k {filename} && "
                    f"stratus build-metadata {filename}.{named} --location {location} …"
                    if not actual else
                    f"give the location of this {actual} file, or build the metadata of the "
                    f"{named} file that {location} serves")
            raise InvalidInput(f"image {filename} {what} but its location {location} names a "
                               f"{named} file (the cloud would fetch other bytes than these)",
                               hint=hint)
    return actual


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
