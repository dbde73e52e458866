"""Marketplace images on a node: fetch signed metadata, download images into the node's cache.

`MarketplaceFetcher.fetch(entry)` tries each location of a (verified) metadata entry in turn —
http, https or file URLs — decompresses gz/bz2/xz on the fly, checks size and every known checksum
of the bytes as stored at the location, and only then renames the result into the cache
(`<cache>/<identifier>.<format>`).  A failed download (404, checksum mismatch, truncated stream)
leaves nothing in the cache.  Each image is downloaded once per node: concurrent fetches of the
same image wait on a per-image lock and reuse the first result.  `MetadataClient` fetches the
exact signed documents of an image from a marketplace.  Imports core and httpx only; never
services, persistence or api.
"""

from __future__ import annotations

import bz2
import fcntl
import hashlib
import json
import lzma
import os
import queue
import threading
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Union
from urllib.parse import unquote, urlparse

import httpx

from stratuslab.core.errors import DriverError, InvalidInput
from stratuslab.core.marketplace import IDENTIFIER_RE, MetadataEntry
from stratuslab.drivers.storage.diskformat import check_image
from stratuslab.drivers.storage.imagecheck import ImageCheck
from stratuslab.drivers.storage.urlfetch import UrlFetcher

Progress = Callable[[int, int | None], None]  # (bytes received, bytes expected)
CHUNK = 1024 * 1024
_HASHES = {"MD5": "md5", "SHA1": "sha1", "SHA224": "sha224", "SHA256": "sha256",
           "SHA384": "sha384", "SHA512": "sha512"}


class _Decompressor(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...
    def finish(self) -> bytes: ...


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        yield data

    def finish(self) -> bytes:
        return b""


_Engine = Union["zlib._Decompress", bz2.BZ2Decompressor, lzma.LZMADecompressor]


class _Streams:
    """gz / bz2 / xz, including concatenated members (pigz, pbzip2 and xz -T write those).

    Output comes in pieces of at most CHUNK bytes (`max_length`), so a small input that expands
    enormously (a decompression bomb) never sits in memory at once: the caller counts and stops
    it."""

    def __init__(self, factory: Callable[[], _Engine]):
        self.factory = factory
        self.current = factory()

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            if self.current.eof:
                data = self.current.unused_data + data
                if not data:
                    return
                self.current = self.factory()
            out = self.current.decompress(data, CHUNK)
            data = b""
            if out:
                yield out
            if self.current.eof:
                continue
            tail = getattr(self.current, "unconsumed_tail", None)  # zlib keeps unread input
            if tail is not None:
                data = tail
                if not data and not out:
                    return
            elif getattr(self.current, "needs_input", True):
                return

    def finish(self) -> bytes:
        if not self.current.eof:
            raise DriverError("compressed stream is truncated or corrupt (no end-of-stream marker)")
        return b""


def _decompressor(compression: str) -> _Decompressor:
    if compression == "gz":
        return _Streams(lambda: zlib.decompressobj(wbits=16 + zlib.MAX_WBITS))
    if compression == "bz2":
        return _Streams(bz2.BZ2Decompressor)
    if compression == "xz":
        return _Streams(lzma.LZMADecompressor)
    return _Identity()


@dataclass(frozen=True)
class ExpansionLimits:
    """Decompression-bomb caps: the image as stored in the cache may be at most `max_bytes`,
    and at most `max_ratio` times the downloaded size once it is past `ratio_floor` bytes."""

    max_bytes: int = 64 * 1024**3
    max_ratio: int = 1000
    ratio_floor: int = 64 * 1024**2

    def check(self, downloaded: int, expanded: int) -> None:
        if expanded > self.max_bytes:
            raise DriverError(f"the image expands past {self.max_bytes} bytes; refused as a "
                              "decompression bomb")
        if expanded > self.ratio_floor and expanded > self.max_ratio * max(downloaded, 1):
            raise DriverError(f"the image expands more than {self.max_ratio} times its download; "
                              "refused as a decompression bomb")


class _Digests:
    """Size and checksums of the stream, each hash in its own thread (hashlib drops the GIL), so
    hashing overlaps the download and uses every core."""

    def __init__(self, entry: MetadataEntry) -> None:
        self.entry = entry
        self.size = 0
        self.expected: dict[str, str] = {}
        self.hashers: dict[str, Any] = {}
        for c in entry.checksums:
            name = _HASHES.get(c.algorithm.upper().replace("-", ""))
            if name:
                self.hashers[c.algorithm] = hashlib.new(name)
                self.expected[c.algorithm] = c.value.lower()
        self.queues: list[queue.Queue[bytes | None]] = []
        self.threads: list[threading.Thread] = []
        for h in self.hashers.values():
            q: queue.Queue[bytes | None] = queue.Queue(maxsize=16)
            t = threading.Thread(target=_hash_worker, args=(h, q), daemon=True)
            t.start()
            self.queues.append(q)
            self.threads.append(t)

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.entry.bytes:
            raise DriverError(
                f"download is larger than the {self.entry.bytes} bytes the metadata announces"
            )
        for q in self.queues:
            q.put(chunk)

    def close(self) -> None:
        if not self.threads:
            return
        for q in self.queues:
            q.put(None)
        for t in self.threads:
            t.join()
        self.threads = []

    def check(self) -> None:
        self.close()
        if self.size != self.entry.bytes:
            raise DriverError(
                f"downloaded image size {self.size} doesn't match the metadata ({self.entry.bytes})"
            )
        for alg, h in self.hashers.items():
            if h.hexdigest() != self.expected[alg]:
                raise DriverError(
                    f"invalid image checksum: {alg} is {h.hexdigest()}, the metadata says "
                    f"{self.expected[alg]}"
                )


def _hash_worker(hasher: Any, chunks: queue.Queue[bytes | None]) -> None:
    while (chunk := chunks.get()) is not None:
        hasher.update(chunk)


class MarketplaceFetcher:
    """Downloads verified images into a per-node cache directory."""

    def __init__(
        self,
        cache_dir: str | Path,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        url_fetcher: UrlFetcher | None = None,
        expansion: ExpansionLimits | None = None,
        rehash_after_s: float = 7 * 86400,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.check = ImageCheck(self.cache_dir, rehash_after_s=rehash_after_s)
        self.timeout = timeout
        self.transport = transport
        self.url_fetcher = url_fetcher  # the SSRF rules of user URLs (the server's wiring sets it)
        self.expansion = expansion or ExpansionLimits()

    def cached_path(self, entry: MetadataEntry) -> Path:
        if not IDENTIFIER_RE.match(entry.identifier):
            raise DriverError(f"identifier {entry.identifier!r} is not a marketplace identifier")
        return self.cache_dir / f"{entry.identifier}.{entry.format or 'img'}"

    def fetch(self, entry: MetadataEntry, progress: Progress | None = None, *,
              allow_files: bool = False) -> Path:
        """The cached image of `entry`, downloading it first if this node does not have it.
        `file:` locations are read only with `allow_files` (an admin asked for the import):
        otherwise metadata could make the node read its own files."""
        dest = self.cached_path(entry)
        if dest.exists():
            return dest
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with self._lock(entry.identifier):
            if dest.exists():  # another worker finished it while we waited
                return dest
            errors = []
            for location in entry.locations:
                try:
                    if urlparse(location).scheme == "file" and not allow_files:
                        raise DriverError("file: locations are read for admins' imports only")
                    self._download(location, entry, dest, progress)
                    return dest
                except DriverError as exc:
                    errors.append(f"{location}: {exc.message}")
        tried = "; ".join(errors) if errors else "the metadata lists no location"
        raise DriverError(
            f"image {entry.identifier} could not be fetched ({tried})",
            hint="check the image's locations with: stratus show-image " + entry.identifier,
        )

    def checked(self, entry: MetadataEntry, *, allow_files: bool = False) -> tuple[Path, str | None]:
        """The cached image of `entry` with its bytes checked against the signed checksums
        (a stat when unchanged since last verified); a file that does not match is moved aside
        and fetched again.  Returns (path, why it was fetched again or None)."""
        dest = self.fetch(entry, allow_files=allow_files)
        with self._lock(entry.identifier):
            problem = self.check.problem(dest, entry)
            if problem is None:
                return dest, None
            self.check.move_aside(dest)
        try:
            path = self.fetch(entry, allow_files=allow_files)
        except DriverError as exc:
            raise DriverError(f"cached image {entry.identifier} was refused ({problem}) and moved "
                              f"aside; fetching it again failed: {exc.message}",
                              hint=exc.hint) from None
        return path, problem

    @contextmanager
    def _lock(self, identifier: str) -> Iterator[None]:
        locks = self.cache_dir / ".locks"
        locks.mkdir(exist_ok=True)
        with open(locks / identifier, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _download(self, location: str, entry: MetadataEntry, dest: Path, progress: Progress | None) -> None:
        part = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        digests = _Digests(entry)
        content = hashlib.sha256()
        unpack = _decompressor(entry.compression)
        broken: Exception | None = None  # a corrupt stream is reported as its checksum error
        expanded = 0
        try:
            with open(part, "wb") as out:
                for chunk in self._chunks(location):
                    digests.update(chunk)
                    if broken is None:
                        try:
                            for piece in unpack.feed(chunk):
                                expanded += len(piece)
                                self.expansion.check(digests.size, expanded)
                                out.write(piece)
                                content.update(piece)
                        except (zlib.error, lzma.LZMAError, EOFError, OSError) as exc:
                            broken = exc
                    if progress is not None:
                        progress(digests.size, entry.bytes)
                digests.check()
                if broken is not None:
                    raise broken
                tail = unpack.finish()
                out.write(tail)
                content.update(tail)
                out.flush()
                os.fsync(out.fileno())
            self._check_format(part, entry)
            os.replace(part, dest)
            self.check.record(dest, entry, content.hexdigest())
        except (OSError, zlib.error, lzma.LZMAError, EOFError) as exc:
            raise DriverError(f"cannot store or decompress the download ({exc})") from exc
        finally:
            digests.close()
            part.unlink(missing_ok=True)

    @staticmethod
    def _check_format(part: Path, entry: MetadataEntry) -> None:
        """The bytes are what the metadata says, and a qcow2 names no other file (item of
        diskformat: QEMU would open a backing file with the node's rights)."""
        try:
            fmt = check_image(part, name=entry.identifier)
        except InvalidInput as exc:
            raise DriverError(exc.message) from None
        if fmt != (entry.format or "raw"):
            raise DriverError(f"the image is {fmt}, but its metadata says {entry.format!r}")

    def _chunks(self, location: str) -> Iterator[bytes]:
        scheme = urlparse(location).scheme
        if scheme == "file":
            yield from _file_chunks(location)
        elif scheme in ("http", "https"):
            yield from self._http_chunks(location)
        else:
            raise DriverError(f"location scheme {scheme!r} is not supported (http, https, file)")

    def _http_chunks(self, url: str) -> Iterator[bytes]:
        if self.url_fetcher is not None:
            try:
                yield from self.url_fetcher.chunks(url)
            except InvalidInput as exc:
                raise DriverError(exc.message) from None
            return
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport, follow_redirects=True) as client:
                with client.stream("GET", url) as resp:
                    if resp.status_code != 200:
                        raise DriverError(f"answered {resp.status_code} {resp.reason_phrase}")
                    yield from resp.iter_raw(CHUNK)
        except httpx.HTTPError as exc:
            raise DriverError(f"download failed ({exc})") from exc


def _file_chunks(location: str) -> Iterator[bytes]:
    path = Path(unquote(urlparse(location).path))
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk
    except OSError as exc:
        raise DriverError(f"cannot read {path} ({exc.strerror})") from exc


class MetadataClient:
    """Fetches the exact signed documents of an image from a marketplace (JSON index + originals).

    Every answer is read in chunks and refused past `max_bytes`, so a hostile or broken
    marketplace cannot make the cloud hold a huge body in memory."""

    def __init__(self, endpoint: str, *, timeout: float = 30.0, max_bytes: int = 10 * 1024 * 1024,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.endpoint = endpoint.rstrip("/") + "/"
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.transport = transport

    def documents(self, identifier: str) -> list[bytes]:
        """Signed originals of the latest entry of each endorser of `identifier` (empty if none).

        Expired and deprecated ones are included so that the site policy can say why it refuses.
        """
        try:
            with httpx.Client(base_url=self.endpoint, timeout=self.timeout, transport=self.transport) as c:
                status, index = self._get(c, f"metadata/{identifier}", {"status": "latest"},
                                          "application/json")
                if status == 404:
                    return []
                return [self._get(c, item["path"], None, "application/xml")[1]
                        for item in json.loads(index)["entries"]]
        except (httpx.HTTPError, KeyError, ValueError, TypeError) as exc:
            raise DriverError(
                f"marketplace {self.endpoint} did not answer for image {identifier} ({exc})",
                hint="check the marketplace endpoint setting and that the marketplace is running",
            ) from exc

    def _get(self, client: httpx.Client, path: str, params: dict[str, str] | None,
             accept: str) -> tuple[int, bytes]:
        with client.stream("GET", path, params=params, headers={"Accept": accept}) as resp:
            if resp.status_code == 404:
                return 404, b""
            resp.raise_for_status()
            declared = resp.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise DriverError(self._too_large(path, f"{declared} bytes"))
            chunks, size = [], 0
            for chunk in resp.iter_bytes(CHUNK):
                size += len(chunk)
                if size > self.max_bytes:
                    raise DriverError(self._too_large(path, "a body"))
                chunks.append(chunk)
            return resp.status_code, b"".join(chunks)

    def _too_large(self, path: str, what: str) -> str:
        return (f"marketplace {self.endpoint} sent {what} for {path}, more than the limit of "
                f"{self.max_bytes} bytes; refused without reading it")
