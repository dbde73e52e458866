"""Marketplace benchmarks: search latency with 100,000 entries, and download+verify throughput.

1. Loads N entries (default 100,000; a mix of OSes, arches, kinds, tags, endorsers, expired and
   deprecated ones) into a fresh SQLite marketplace database, then times each query kind through
   the service and through HTTP (FastAPI TestClient) and prints p50/p99 in milliseconds.
2. Serves a file from a loopback HTTP server and times MarketplaceFetcher (download + size + MD5,
   SHA-1, SHA-256, SHA-512 checks + rename into the cache), uncompressed and gzip, against
   `sha1sum` of the same file in the same run; prints MB/s and the ratio to sha1sum.

    .venv/bin/python bench/marketplace_search.py [--entries 100000] [--size-mib 256]
"""

from __future__ import annotations

import argparse
import functools
import gzip
import io
import os
import random
import statistics
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert

from stratuslab.api.marketplace import create_app
from stratuslab.core.marketplace import (
    Checksum,
    EntryQuery,
    EntryStatus,
    StoredEntry,
    format_date,
    sha1_to_identifier,
)
from stratuslab.drivers._process import run
from stratuslab.drivers.storage.marketfetch import MarketplaceFetcher
from stratuslab.persistence.marketplace import SqlMarketplaceRepository, open_database, sqlite_url
from stratuslab.persistence.marketplace.repository import entry_to_json
from stratuslab.persistence.marketplace.tables import documents, endorsers, entries, tags
from stratuslab.services.marketplace import MarketplaceService, TrustStore, build, rdf

NOW = datetime.now(UTC).replace(microsecond=0)
OSES = ["debian", "ubuntu", "centos", "fedora", "sl", "opensuse", "ttylinux", "windows"]
ARCHES = ["x86_64", "i686", "aarch64"]
WORDS = "grid worker node batch hadoop web server desktop minimal base cluster tiny analysis".split()


def _populate(engine, n: int, rng: random.Random) -> None:  # type: ignore[no-untyped-def]
    size, checksums = build.digest_stream(io.BytesIO(b"template"))
    template = build.new_entry(size, checksums, email="x@example.org", now=NOW)
    # ~4 kB like a real signed entry (document + signature + certificate)
    raw = rdf.build_document(template) + b"<!--" + b"s" * 1500 + b"-->"
    rows, tag_rows, doc_rows = [], [], []
    n_endorsers = 200
    for i in range(n):
        sha1 = f"{i:040x}"
        email = f"endorser{i % n_endorsers}@example.org"
        words = rng.sample(WORDS, 3)
        entry = replace(
            template,
            identifier=sha1_to_identifier(sha1),
            checksums=(Checksum("SHA-1", sha1),),
            endorsement=replace(template.endorsement, created=NOW - timedelta(minutes=n - i),
                                endorser=replace(template.endorsement.endorser, email=email)),
            os=OSES[i % len(OSES)], arch=ARCHES[i % len(ARCHES)],
            kind="disk" if i % 10 == 0 else "machine",
            valid_until=NOW - timedelta(days=1) if i % 7 == 0 else NOW + timedelta(days=100),
            deprecated="old" if i % 11 == 0 else None,
            title=" ".join(words).title(), description=" ".join(rng.sample(WORDS, 6)),
            tags=(words[0],),
        )
        row = SqlMarketplaceRepository._row(StoredEntry(entry, raw), format_date(entry.created))
        rows.append({"id": i + 1, **row})
        doc_rows.append({"entry_id": i + 1, "summary": entry_to_json(entry), "raw": raw})
        tag_rows.append({"entry_id": i + 1, "tag": words[0]})
    with engine.begin() as conn:
        for start in range(0, n, 5000):
            conn.execute(insert(entries), rows[start:start + 5000])
            conn.execute(insert(documents), doc_rows[start:start + 5000])
            conn.execute(insert(tags), tag_rows[start:start + 5000])
        conn.execute(insert(endorsers), [
            {"email": f"endorser{k}@example.org", "subject": "CN=x", "issuer": "CN=ca",
             "entries": n // n_endorsers, "last_created": format_date(NOW)}
            for k in range(n_endorsers)])
        conn.exec_driver_sql("ANALYZE")


def _pct(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    p99 = samples[min(len(samples) - 1, int(round(0.99 * (len(samples) - 1))))]
    return statistics.median(samples) * 1000, p99 * 1000


def bench_search(n: int, repeat: int) -> None:
    rng = random.Random(42)
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_database(sqlite_url(tmp))
        t0 = time.perf_counter()
        _populate(engine, n, rng)
        print(f"loaded {n} entries in {time.perf_counter() - t0:.1f}s")
        service = MarketplaceService(SqlMarketplaceRepository(engine), TrustStore(), clock=lambda: NOW)
        some_id = sha1_to_identifier(f"{n // 2 + 1:040x}")
        queries = {
            "default (valid, latest 100)": EntryQuery(),
            "os=ubuntu": EntryQuery(os="ubuntu"),
            "arch=aarch64 kind=disk": EntryQuery(arch="aarch64", kind="disk"),
            "tag=hadoop": EntryQuery(tag="hadoop"),
            "endorser": EntryQuery(email="endorser17@example.org"),
            "free text 'grid worker'": EntryQuery(text="grid worker"),
            "status=expired": EntryQuery(status=EntryStatus.EXPIRED),
            "status=deprecated": EntryQuery(status=EntryStatus.DEPRECATED),
            "identifier": EntryQuery(identifier=some_id, status=EntryStatus.ALL),
            "page offset 5000": EntryQuery(offset=5000),
        }
        print(f"{'query':32} {'hits':>7} {'p50 ms':>8} {'p99 ms':>8}")
        for name, query in queries.items():
            service.search(query)  # warm
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                page = service.search(query)
                times.append(time.perf_counter() - t)
            p50, p99 = _pct(times)
            print(f"{name:32} {page.total:7d} {p50:8.2f} {p99:8.2f}")
        client = TestClient(create_app(service))
        for name, params in {"HTTP GET /metadata (JSON)": {}, "HTTP GET /metadata?os=centos (XML)": {
                "os": "centos", "format": "xml"}}.items():
            headers = {"Accept": "application/json"}
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                resp = client.get("/metadata", params=params, headers=headers)
                times.append(time.perf_counter() - t)
            assert resp.status_code == 200
            p50, p99 = _pct(times)
            print(f"{name:32} {int(resp.headers['x-total-count']):7d} {p50:8.2f} {p99:8.2f}")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def bench_download(size_mib: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "www"
        root.mkdir()
        image = root / "bench.img"
        with open(image, "wb") as fh:
            block = os.urandom(1024 * 1024)
            for i in range(size_mib):
                fh.write(block[i % 997:] + block[: i % 997])
        gz = root / "bench.img.gz"
        with open(image, "rb") as src, gzip.open(gz, "wb", compresslevel=1) as dst:
            while chunk := src.read(1024 * 1024):
                dst.write(chunk)
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            t = time.perf_counter()
            run(["sha1sum", str(image)], timeout=600)
            base = time.perf_counter() - t
            mb = image.stat().st_size / 1e6
            print(f"sha1sum {size_mib} MiB: {mb / base:8.1f} MB/s (baseline)")
            t = time.perf_counter()
            with open(image, "rb") as src, open(Path(tmp) / "copy", "wb") as dst:
                while chunk := src.read(1024 * 1024):
                    dst.write(chunk)
                dst.flush()
                os.fsync(dst.fileno())
            copy = time.perf_counter() - t
            print(f"plain copy+fsync (disk bound): {mb / copy:8.1f} MB/s, ratio to sha1sum "
                  f"{base / copy:5.2f}")
            for name, path, compression in (("http raw", image, ""), ("http gzip", gz, "gz")):
                with open(path, "rb") as fh:
                    size, checksums = build.digest_stream(fh)
                entry = build.new_entry(size, checksums, email="b@example.org", now=NOW,
                                        format="raw", compression=compression,
                                        locations=(f"{url}/{path.name}",))
                cache = Path(tmp) / f"cache-{compression or 'raw'}"
                t = time.perf_counter()
                MarketplaceFetcher(cache).fetch(entry)
                took = time.perf_counter() - t
                print(f"fetch+verify {name:10}: {mb / took:8.1f} MB/s of image, "
                      f"ratio to sha1sum {base / took:5.2f} (time {took:.2f}s vs {base:.2f}s)")
        finally:
            server.shutdown()
            server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--size-mib", type=int, default=256)
    args = parser.parse_args()
    bench_search(args.entries, args.repeat)
    bench_download(args.size_mib)


if __name__ == "__main__":
    main()
