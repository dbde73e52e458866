"""File storage (CDMI): containers and data objects, their names and IDs, and the ports behind them.

A container or data object is a row (`StoredObject`: its place in the tree, owner, metadata,
size) plus, for data objects, a blob of bytes in a `BlobStore`.  A new blob is written under a
fresh key and the row is switched to it in one transaction, so a crash or an aborted upload never
leaves half an object visible.  Names are checked here once for every front end.

Only the standard library.
"""

from __future__ import annotations

import binascii
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from stratuslab.core.errors import InvalidInput, QuotaExceeded

MAX_NAME = 255
MAX_DEPTH = 32
MAX_METADATA = 64 * 1024  # bytes of user metadata (JSON) per object
ENTERPRISE_NUMBER = 0  # the object ID's enterprise field; 0 = not registered with IANA


class ObjectKind(StrEnum):
    CONTAINER = "container"
    DATA = "object"


@dataclass
class StoredObject:
    id: int | None
    object_id: str
    parent: str  # the parent container's object_id; "" for a top-level container
    name: str | None  # None: created by POST, reachable by its ID only
    kind: str
    owner: str
    mimetype: str = "application/octet-stream"
    size: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    blob: str | None = None  # the BlobStore key of a data object's current bytes
    sha256: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ObjectRepository(Protocol):
    def add(self, obj: StoredObject) -> StoredObject: ...
    def get(self, object_id: str) -> StoredObject | None: ...
    def child(self, parent: str, name: str) -> StoredObject | None: ...
    def children(self, parent: str, offset: int, limit: int) -> list[StoredObject]: ...
    def count_children(self, parent: str) -> int: ...
    def top_level(self, owner: str | None) -> list[StoredObject]: ...
    def update(self, obj: StoredObject) -> None: ...
    def delete(self, object_id: str) -> None: ...
    def used_bytes(self, owner: str) -> int: ...


class BlobStore(Protocol):
    """Bytes of data objects, by key.  `write` is crash-safe: a key exists whole or not at all."""

    def write(self, key: str, chunks: Iterable[bytes], limit: int) -> tuple[int, str]:
        """Store the chunks under `key`; return (size, sha256 hex).  Raise `TooLarge` (and keep
        nothing) once more than `limit` bytes arrive."""
        ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes start..end (end exclusive; None = to the end), in chunks."""
        ...

    def delete(self, key: str) -> None: ...


class TooLarge(QuotaExceeded):
    """More bytes arrived than the caller's storage quota leaves room for."""


def check_name(name: str) -> str:
    """A path component as a user gives it (already percent-decoded)."""
    if not name or name in (".", ".."):
        raise InvalidInput(f"object name {name!r} is not allowed",
                           hint="use a name that is not empty, '.' or '..'")
    if "/" in name or "\x00" in name or any(ord(c) < 0x20 for c in name):
        raise InvalidInput(f"object name {name[:60]!r} contains '/', NUL or a control character",
                           hint="a name is one path component of printable characters")
    if len(name.encode()) > MAX_NAME:
        raise InvalidInput(f"object name {name[:40]!r}… is {len(name.encode())} bytes long; "
                           f"at most {MAX_NAME} are allowed")
    return name


def split_path(path: str) -> list[str]:
    """'/a/b/c' or 'a/b/c/' -> ['a', 'b', 'c'], each component checked."""
    parts = [p for p in path.strip("/").split("/")] if path.strip("/") else []
    if len(parts) > MAX_DEPTH:
        raise InvalidInput(f"path {path[:80]!r} is {len(parts)} levels deep; at most {MAX_DEPTH}")
    return [check_name(p) for p in parts]


def crc16(data: bytes) -> int:
    """CRC-16 (the ARC/IBM polynomial 0x8005, reflected) that CDMI object IDs carry."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def new_object_id() -> str:
    """A CDMI object ID: reserved byte, 3-byte enterprise number, reserved byte, length byte,
    2-byte CRC (computed with the CRC field zero), then 16 random bytes; upper-case hex."""
    opaque = secrets.token_bytes(16)
    length = 8 + len(opaque)
    head = bytes([0]) + ENTERPRISE_NUMBER.to_bytes(3, "big") + bytes([0, length])
    crc = crc16(head + b"\x00\x00" + opaque)
    return binascii.hexlify(head + crc.to_bytes(2, "big") + opaque).decode().upper()


def is_object_id(text: str) -> bool:
    try:
        raw = binascii.unhexlify(text)
    except (binascii.Error, ValueError):
        return False
    if not 8 < len(raw) <= 40 or raw[5] != len(raw):
        return False
    return crc16(raw[:6] + b"\x00\x00" + raw[8:]) == int.from_bytes(raw[6:8], "big")
