"""The node's image cache: copies or downloads image bytes, verifying their SHA-1 on the way.

Files land in `<images_dir>/<sha1>.<format>`; the same bytes registered twice share one file.
A failed or mismatching import leaves nothing behind.  A VM's root overlay is flattened
(`qemu-img convert`, through drivers._process) into a new image the same way.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

from stratuslab.core.errors import InvalidInput
from stratuslab.core.ports import StoredImage
from stratuslab.drivers._process import run
from stratuslab.drivers.storage.diskformat import check_image
from stratuslab.drivers.storage.urlfetch import DownloadRefused, UrlFetcher

CHUNK = 1 << 20


class _Digest:
    """SHA-1 and size of a stream, fed chunk by chunk."""

    def __init__(self) -> None:
        self.sha1 = hashlib.sha1(usedforsecurity=False)
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self.sha1.update(chunk)
        self.size += len(chunk)


class FileImageStore:
    def __init__(
        self, images_dir: str | os.PathLike[str], *, qemu_img: str = "qemu-img",
        convert_timeout: float = 1800.0, fetcher: UrlFetcher | None = None,
    ) -> None:
        self.images_dir = Path(images_dir)
        self.qemu_img = qemu_img
        self.convert_timeout = convert_timeout
        self.images_dir.mkdir(parents=True, exist_ok=True)
        self.fetcher = fetcher or UrlFetcher()

    def _chunks(self, source: str) -> Iterator[bytes]:
        scheme = urlparse(source).scheme
        if scheme in ("http", "https"):
            yield from self.fetcher.chunks(source)
            return
        if scheme not in ("", "file"):
            raise DownloadRefused(source)
        path = Path(source[7:] if scheme == "file" else source)
        if not path.is_file():
            raise InvalidInput(
                f"image file {path} does not exist on the server",
                hint="give a path readable by stratus-server, or an http(s) URL",
            )
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk

    def import_image(
        self, source: str, *, expected_sha1: str | None, name: str,
        progress: Callable[[int], None] | None = None,
    ) -> StoredImage:
        fd, tmp = tempfile.mkstemp(dir=self.images_dir, prefix=".import-")
        try:
            digest = _Digest()
            with os.fdopen(fd, "wb") as out:
                for chunk in self._chunks(source):  # hashed while written: one pass over the bytes
                    out.write(chunk)
                    digest.update(chunk)
                    if progress:
                        progress(digest.size)
            return self._place(tmp, digest, expected_sha1=expected_sha1, name=name, source=source)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def import_flattened(
        self, overlay_path: str, *, name: str, fmt: str = "qcow2"
    ) -> StoredImage:
        """Flatten a disk (format `fmt`, never probed) and its backing chain into one qcow2."""
        if not Path(overlay_path).is_file():
            raise InvalidInput(
                f"image {name}: disk {overlay_path} is not on this server",
                hint="save the disk on the node that holds it",
            )
        fd, tmp = tempfile.mkstemp(dir=self.images_dir, prefix=".flatten-")
        os.close(fd)
        try:
            run([self.qemu_img, "convert", "-f", fmt, "-O", "qcow2", overlay_path, tmp],
                timeout=self.convert_timeout)
            digest = _Digest()
            with open(tmp, "rb") as f:
                while chunk := f.read(CHUNK):
                    digest.update(chunk)
            return self._place(tmp, digest, expected_sha1=None, name=name, source=overlay_path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def _place(
        self, tmp: str, hashed: _Digest, *, expected_sha1: str | None, name: str, source: str
    ) -> StoredImage:
        """Check the finished temporary file (format from its own first bytes; a qcow2 naming
        a backing or data file is refused) and move it to `<sha1>.<format>` (read-only); bytes
        already cached are kept once.  The caller removes `tmp` on failure."""
        digest, size = hashed.sha1.hexdigest(), hashed.size
        if expected_sha1 and expected_sha1.lower() != digest:
            raise InvalidInput(
                f"image {name}: checksum mismatch (expected SHA-1 {expected_sha1.lower()}, "
                f"got {digest})",
                hint="check the file or the --sha1 value",
            )
        if size == 0:
            raise InvalidInput(f"image {name}: {source} is empty")
        fmt = check_image(tmp, name=name, qemu_img=self.qemu_img)
        final = self.images_dir / f"{digest}.{fmt}"
        if final.exists():
            os.unlink(tmp)
        else:
            os.chmod(tmp, 0o444)
            os.replace(tmp, final)
        return StoredImage(str(final), fmt, size, digest)

    def remove(self, path: str) -> None:
        p = Path(path)
        if p.parent == self.images_dir:
            p.unlink(missing_ok=True)
