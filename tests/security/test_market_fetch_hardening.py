"""Attacks through marketplace images and the addresses the node writes into nftables:

- a decompression bomb: a small gz/bz2 download that expands to fill the node's disk (or its
  memory, decompressed in one call);
- a `file:` location in metadata, fetched for an ordinary user: the node reads its own files;
- a qcow2 whose header names a host file, behind honest-looking metadata;
- an IPv6 scope id (Python's `ipaddress` accepts any text after `%`) or a CIDR carrying nft
  syntax, written into the per-NIC nftables rules."""

from __future__ import annotations

import bz2
import gzip
import io
from pathlib import Path

import pytest
from tests.helpers.marketdocs import NOW

from stratuslab.core.errors import DriverError, InvalidInput
from stratuslab.core.marketplace import MetadataEntry
from stratuslab.core.network import Direction, IpProtocol, Rule
from stratuslab.drivers import _process
from stratuslab.drivers.network.bridge import firewall as fw
from stratuslab.drivers.storage.marketfetch import ExpansionLimits, MarketplaceFetcher
from stratuslab.services.marketplace import build

MIB = 1024 * 1024


def entry_for(path: Path, fmt: str = "raw") -> MetadataEntry:
    size, checksums = build.digest_stream(io.BytesIO(path.read_bytes()))
    return build.new_entry(size, checksums, email="alice@example.org", now=NOW,
                           compression=build.compression_of(path.name), format=fmt,
                           locations=(path.as_uri(),))


def cached(cache: Path) -> list[str]:
    return [] if not cache.exists() else [p.name for p in cache.iterdir() if p.name != ".locks"]


@pytest.mark.parametrize(("name", "limits"), [
    ("bomb.img.gz", ExpansionLimits(max_bytes=8 * MIB)),  # absolute cap
    ("bomb.img.bz2", ExpansionLimits(max_ratio=1000, ratio_floor=MIB)),  # ratio cap
])
def test_decompression_bomb_is_refused_and_leaves_nothing(
    tmp_path: Path, name: str, limits: ExpansionLimits
) -> None:
    zeros = b"\0" * (32 * MIB)
    bomb = tmp_path / name
    bomb.write_bytes(gzip.compress(zeros) if name.endswith(".gz") else bz2.compress(zeros))
    fetcher = MarketplaceFetcher(tmp_path / "cache", expansion=limits)
    with pytest.raises(DriverError, match="decompression bomb"):
        fetcher.fetch(entry_for(bomb), allow_files=True)
    assert cached(tmp_path / "cache") == []


def test_file_location_is_not_read_for_a_users_import(tmp_path: Path) -> None:
    secret = tmp_path / "host-file.img"
    secret.write_bytes(b"\xeb\x63\x90" + b"node-private" * 100)
    fetcher = MarketplaceFetcher(tmp_path / "cache")
    with pytest.raises(DriverError, match="file: locations are read for admins' imports only"):
        fetcher.fetch(entry_for(secret))
    assert cached(tmp_path / "cache") == []
    assert fetcher.fetch(entry_for(secret), allow_files=True).read_bytes() == secret.read_bytes()


def test_marketplace_qcow2_naming_a_backing_file_is_refused(tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.qcow2"
    _process.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw",
                  str(hostile)])
    with pytest.raises(DriverError, match="names a backing file"):
        MarketplaceFetcher(tmp_path / "cache").fetch(entry_for(hostile, "qcow2"), allow_files=True)
    assert cached(tmp_path / "cache") == []


def test_scope_id_or_nft_syntax_in_an_address_never_reaches_nftables() -> None:
    mac = "02:00:0a:00:00:05"
    for ipv6 in ("fe80::1%eth0 } accept; flush ruleset; {", "fe80::1%x", "10.0.0.6"):
        with pytest.raises(InvalidInput, match="NIC sl5n0"):
            fw.NicAddresses("sl5n0", mac, "10.0.0.5", ipv6)
    with pytest.raises(InvalidInput, match="is not an IP address"):
        fw.NicAddresses("sl5n0", mac, "10.0.0.5 accept")
    nic = fw.NicAddresses("sl5n0", mac.upper(), "10.0.0.5", "FD00:0:0::5")
    assert nic.ipv6 == "fd00::5" and nic.mac == mac  # canonical forms only
    bad = Rule(Direction.INBOUND, IpProtocol.TCP, 22, 22, remote_cidr="10.0.0.0/8 accept")
    with pytest.raises(InvalidInput, match="is not an IP network"):
        fw.nic_script(nic, [bad])
    good = Rule(Direction.INBOUND, IpProtocol.TCP, 22, 22, remote_cidr="10.1.2.3/8")
    assert "ip saddr 10.0.0.0/8 tcp dport 22 accept" in fw.nic_script(nic, [good])
