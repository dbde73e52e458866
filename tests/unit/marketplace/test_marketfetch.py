"""Image fetcher against a real HTTP server on 127.0.0.1 (http.server in a thread)."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.marketdocs import NOW
from tests.helpers.net import http_directory

from stratuslab.core.errors import DriverError
from stratuslab.core.marketplace import MetadataEntry
from stratuslab.drivers.storage.marketfetch import MarketplaceFetcher
from stratuslab.services.marketplace import build

IMAGE = bytes(range(256)) * 4096  # 1 MiB of raw "disk"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("www")
    (root / "tiny.img").write_bytes(IMAGE)
    (root / "tiny.img.gz").write_bytes(gzip.compress(IMAGE))
    (root / "tiny.img.xz").write_bytes(lzma.compress(IMAGE))
    (root / "tiny.img.bz2").write_bytes(bz2.compress(IMAGE))
    (root / "two-members.img.gz").write_bytes(gzip.compress(IMAGE[:1000]) + gzip.compress(IMAGE[1000:]))
    with http_directory(root) as url:
        yield url, root


def entry_for(path: Path, *locations: str) -> MetadataEntry:
    size, checksums = build.digest_stream(io.BytesIO(path.read_bytes()))
    return build.new_entry(size, checksums, email="alice@example.org", now=NOW,
                           compression=build.compression_of(path.name), format="raw",
                           locations=locations)

BOOKKEEPING = {".locks", ".verified", ".tampered"}  # locks, verification stamps, refused files


def cache_is_empty(cache: Path) -> bool:
    return not cache.exists() or [p.name for p in cache.iterdir() if p.name not in BOOKKEEPING] == []


@pytest.mark.parametrize("name", ["tiny.img", "tiny.img.gz", "tiny.img.xz", "tiny.img.bz2",
                                  "two-members.img.gz"])
def test_http_download_is_decompressed_verified_and_cached(
    served: tuple[str, Path], tmp_path: Path, name: str
) -> None:
    url, root = served
    seen: list[tuple[int, int | None]] = []
    entry = entry_for(root / name, f"{url}/{name}")
    path = MarketplaceFetcher(tmp_path).fetch(entry, lambda done, total: seen.append((done, total)))
    assert path == tmp_path / f"{entry.identifier}.raw"
    assert hashlib.sha1(path.read_bytes()).hexdigest() == hashlib.sha1(IMAGE).hexdigest()
    assert seen[-1] == (entry.bytes, entry.bytes)
    assert [p.name for p in tmp_path.iterdir() if p.name not in BOOKKEEPING] == [path.name]


def test_cached_image_is_not_downloaded_again(served: tuple[str, Path], tmp_path: Path) -> None:
    url, root = served
    entry = entry_for(root / "tiny.img.gz", f"{url}/tiny.img.gz")
    fetcher = MarketplaceFetcher(tmp_path)
    first = fetcher.fetch(entry)
    calls: list[int] = []
    assert fetcher.fetch(entry, lambda done, total: calls.append(done)) == first
    assert calls == []


def test_checksum_mismatch_leaves_nothing_in_the_cache(served: tuple[str, Path], tmp_path: Path) -> None:
    url, root = served
    good = entry_for(root / "tiny.img", f"{url}/tiny.img")
    bad = build.new_entry(good.bytes, tuple(
        c if c.algorithm != "SHA-256" else type(c)(c.algorithm, "0" * 64) for c in good.checksums),
        email="alice@example.org", now=NOW, locations=good.locations, format="raw")
    with pytest.raises(DriverError, match="invalid image checksum: SHA-256"):
        MarketplaceFetcher(tmp_path).fetch(bad)
    assert cache_is_empty(tmp_path)


def test_location_that_404s_leaves_nothing_and_is_named(served: tuple[str, Path], tmp_path: Path) -> None:
    url, root = served
    entry = entry_for(root / "tiny.img", f"{url}/missing.img")
    with pytest.raises(DriverError, match=r"missing.img: answered 404"):
        MarketplaceFetcher(tmp_path).fetch(entry)
    assert cache_is_empty(tmp_path)


def test_next_location_is_tried_after_a_failure(served: tuple[str, Path], tmp_path: Path) -> None:
    url, root = served
    entry = entry_for(root / "tiny.img.xz", f"{url}/missing.xz", f"{url}/tiny.img.xz")
    assert MarketplaceFetcher(tmp_path).fetch(entry).exists()


def test_truncated_download_is_refused(served: tuple[str, Path], tmp_path: Path) -> None:
    url, root = served
    full = entry_for(root / "tiny.img.gz", f"{url}/tiny.img.gz")
    bigger = build.new_entry(full.bytes + 10, full.checksums, email="alice@example.org", now=NOW,
                             compression="gz", locations=full.locations, format="raw")
    with pytest.raises(DriverError, match="size"):
        MarketplaceFetcher(tmp_path).fetch(bigger)
    assert cache_is_empty(tmp_path)


def test_file_location_is_supported(served: tuple[str, Path], tmp_path: Path) -> None:
    _, root = served
    entry = entry_for(root / "tiny.img.bz2", (root / "tiny.img.bz2").as_uri())
    with pytest.raises(DriverError, match="file: locations are read for admins' imports only"):
        MarketplaceFetcher(tmp_path / "cache").fetch(entry)
    assert MarketplaceFetcher(tmp_path / "cache").fetch(entry, allow_files=True).read_bytes() == IMAGE


def test_corrupted_compressed_download_is_reported_as_a_checksum_mismatch(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = served
    good = root / "tiny.img.gz"
    entry = entry_for(good, f"{url}/flipped.img.gz")
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size; gzip itself would also fail on it
    (root / "flipped.img.gz").write_bytes(bytes(data))
    with pytest.raises(DriverError, match="invalid image checksum"):
        MarketplaceFetcher(tmp_path / "cache").fetch(entry)
    assert cache_is_empty(tmp_path / "cache")
