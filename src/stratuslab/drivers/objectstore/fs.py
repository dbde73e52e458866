"""The `fs` blob store: each blob a file under one directory, written crash-safely.

A blob is written to a temporary file in the same directory, flushed to disk (fsync), then
renamed to its key: readers see the whole blob or none, even after a crash mid-upload (left-over
temporary files are removed at start-up).  Keys are the service's own (hex and dashes); anything
else is refused, so a key can never name a path outside the directory.

Imports only the standard library and `core`.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from stratuslab.core.errors import DriverError, InvalidInput
from stratuslab.core.objects import TooLarge

CHUNK = 1024 * 1024
_KEY = re.compile(r"^[0-9A-Fa-f-]{8,120}$")
_TMP = ".tmp-"


class FsBlobStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for left in self.root.glob(f"*/{_TMP}*"):  # uploads a crash interrupted
            left.unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise InvalidInput(f"blob key {key[:40]!r} is malformed")
        return self.root / key[:2] / key

    def write(self, key: str, chunks: Iterable[bytes], limit: int) -> tuple[int, str]:
        final = self._path(key)
        final.parent.mkdir(exist_ok=True, mode=0o700)
        tmp = final.with_name(_TMP + key)
        digest = hashlib.sha256()
        size = 0
        try:
            with open(tmp, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(f"the object is larger than the {limit} bytes your storage "
                                       "quota leaves", hint="delete objects you no longer need "
                                       "(stratus storage rm) or ask an admin for more quota")
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)
        except OSError as exc:
            raise DriverError(f"cannot store the object's bytes: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        return size, digest.hexdigest()

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        try:
            f = open(self._path(key), "rb")
        except FileNotFoundError as exc:
            raise DriverError(f"the bytes of object blob {key} are missing") from exc
        with f:
            f.seek(start)
            left = None if end is None else max(end - start, 0)
            while left is None or left > 0:
                chunk = f.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
