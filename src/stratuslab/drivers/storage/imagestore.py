"""The node's image cache: copies or downloads image bytes, verifying their SHA-1 on the way.

Files land in `<images_dir>/<sha1>.<format>`; the same bytes registered twice share one file.
A failed or mismatching import leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx

from stratuslab.core.errors import DriverError, InvalidInput
from stratuslab.core.ports import StoredImage

CHUNK = 1 << 20
QCOW2_MAGIC = b"QFI\xfb"


def detect_format(head: bytes) -> str:
    return "qcow2" if head.startswith(QCOW2_MAGIC) else "raw"


class FileImageStore:
    def __init__(
        self, images_dir: str | os.PathLike[str], *, progress: Callable[[int], None] | None = None
    ) -> None:
        self.images_dir = Path(images_dir)
        self.images_dir.mkdir(parents=True, exist_ok=True)
        self.progress = progress

    def _chunks(self, source: str) -> Iterator[bytes]:
        scheme = urlparse(source).scheme
        if scheme in ("http", "https"):
            try:
                with httpx.stream("GET", source, follow_redirects=True, timeout=60) as resp:
                    if resp.status_code != 200:
                        raise InvalidInput(
                            f"image location {source} answered HTTP {resp.status_code}",
                            hint="check the URL",
                        )
                    yield from resp.iter_bytes(CHUNK)
            except httpx.HTTPError as exc:
                raise DriverError(f"cannot download image from {source}: {exc}") from exc
            return
        path = Path(source[7:] if scheme == "file" else source)
        if not path.is_file():
            raise InvalidInput(
                f"image file {path} does not exist on the server",
                hint="give a path readable by stratus-server, or an http(s) URL",
            )
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk

    def import_image(self, source: str, *, expected_sha1: str | None, name: str) -> StoredImage:
        sha1 = hashlib.sha1(usedforsecurity=False)
        size = 0
        head = b""
        fd, tmp = tempfile.mkstemp(dir=self.images_dir, prefix=".import-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in self._chunks(source):
                    if len(head) < 8:
                        head += chunk[:8]
                    sha1.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                    if self.progress:
                        self.progress(size)
            digest = sha1.hexdigest()
            if expected_sha1 and expected_sha1.lower() != digest:
                raise InvalidInput(
                    f"image {name}: checksum mismatch (expected SHA-1 {expected_sha1.lower()}, "
                    f"got {digest})",
                    hint="check the file or the --sha1 value",
                )
            if size == 0:
                raise InvalidInput(f"image {name}: {source} is empty")
            fmt = detect_format(head)
            final = self.images_dir / f"{digest}.{fmt}"
            if final.exists():
                os.unlink(tmp)
            else:
                os.chmod(tmp, 0o444)
                os.replace(tmp, final)
            return StoredImage(str(final), fmt, size, digest)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def remove(self, path: str) -> None:
        p = Path(path)
        if p.parent == self.images_dir:
            p.unlink(missing_ok=True)
