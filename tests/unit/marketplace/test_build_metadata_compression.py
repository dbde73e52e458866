"""`stratus build-metadata` records the compression the image file's own bytes show (and so the
compressed size and checksums), whatever its name says; a location naming another compression
than the file's is refused with the command that makes the right file.  The metadata it writes
is what the cloud's fetcher then downloads, expands and accepts (an HTTP server on loopback)."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.helpers.net import http_directory

from stratuslab.cli.main import cli
from stratuslab.drivers.storage.marketfetch import MarketplaceFetcher
from stratuslab.services.marketplace import rdf

DISK = bytes(range(256)) * 1024  # 256 KiB of raw "disk"
COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gz": lambda b: gzip.compress(b, mtime=0), "bz2": bz2.compress, "xz": lzma.compress}


def build_metadata(image: Path, *locations: str) -> tuple[int, str]:
    args = ["build-metadata", str(image), "--email", "alice@example.org", "--format", "raw"]
    for location in locations:
        args += ["--location", location]
    res = CliRunner().invoke(cli, args)
    return res.exit_code, res.stdout if res.exit_code == 0 else res.stderr


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_compression_is_read_from_the_bytes_and_the_fetcher_accepts_the_entry(
        tmp_path: Path, kind: str) -> None:
    served = tmp_path / "www"
    served.mkdir()
    packed = COMPRESSORS[kind](DISK)
    image = served / "disk.img"  # compressed bytes under a name that does not say so
    image.write_bytes(packed)
    with http_directory(served) as url:
        code, out = build_metadata(image, f"{url}/disk.img")
        assert code == 0, out
        entry = rdf.parse_entry(Path(out.strip()).read_bytes())
        assert (entry.compression, entry.bytes) == (kind, len(packed))
        cache = tmp_path / "cache"
        path = MarketplaceFetcher(cache).fetch(entry)
    assert hashlib.sha1(path.read_bytes()).digest() == hashlib.sha1(DISK).digest()


def test_an_uncompressed_file_at_a_compressed_location_is_refused_with_the_command(
        tmp_path: Path) -> None:
    image = tmp_path / "img.qcow2"
    image.write_bytes(DISK)
    code, err = build_metadata(image, "file:///srv/images/img.qcow2.gz")
    assert code == 2, err
    assert err.startswith("Error: image img.qcow2 is not compressed but its location "
                          "file:///srv/images/img.qcow2.gz names a gz file"), err
    assert "; describe the file that location serves: gzip -k img.qcow2 && stratus " \
           "build-metadata img.qcow2.gz --location file:///srv/images/img.qcow2.gz" in err, err
    assert not (tmp_path / "img.qcow2.xml").exists()  # nothing half-made


def test_a_gz_file_named_xz_by_its_location_is_refused(tmp_path: Path) -> None:
    image = tmp_path / "img.raw.gz"
    image.write_bytes(gzip.compress(DISK))
    code, err = build_metadata(image, "http://images.example.org/img.raw.gz",
                               "http://mirror.example.org/img.raw.xz")
    assert code == 2 and "is gz-compressed but its location http://mirror" in err, err


@pytest.mark.parametrize("location", ["http://h/img?name=x.gz", "http://h/img.gz.d/img#.xz"])
def test_only_the_path_of_a_location_names_a_compression(tmp_path: Path, location: str) -> None:
    image = tmp_path / "img.raw"
    image.write_bytes(DISK)
    code, out = build_metadata(image, location)
    assert code == 0, out
    assert rdf.parse_entry(Path(out.strip()).read_bytes()).compression == ""


def test_a_name_ending_in_gz_does_not_make_plain_bytes_compressed(tmp_path: Path) -> None:
    image = tmp_path / "img.raw.gz"
    image.write_bytes(DISK)  # not gzip at all
    code, err = build_metadata(image, "http://h/img.raw.gz")
    assert code == 2 and "is not compressed" in err, err
