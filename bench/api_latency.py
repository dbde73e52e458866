"""REST API benchmark on the simulated hypervisor.

Prints VM create+delete throughput and single-VM GET latency p50/p99 at 100 concurrent requests,
next to a baseline measured in the same run: GET of the static OpenAPI document (no database,
no authentication), so the ratio shows what our request path costs over the bare web stack.
Target for later comparison: GET p50 under 10 ms, p99 under 50 ms.

    .venv/bin/python bench/api_latency.py [--requests 2000] [--vms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.conftest import Server, free_port


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


async def hammer(url: str, headers: dict[str, str], total: int, concurrency: int) -> list[float]:
    lat: list[float] = []
    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as client:
        async def one() -> None:
            async with sem:
                t0 = time.perf_counter()
                r = await client.get(url)
                lat.append(time.perf_counter() - t0)
                r.raise_for_status()
        await asyncio.gather(*(one() for _ in range(total)))
    return lat


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--vms", type=int, default=50)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        srv = Server(Path(tmp) / "data", free_port(), args=["--hypervisor", "simulated"])
        srv.start()
        try:
            run(srv, Path(tmp), args)
        finally:
            srv.stop()


def run(srv: Server, tmp: Path, args: argparse.Namespace) -> None:
    auth = ("admin", "adminpw")
    base = srv.endpoint
    img = tmp / "disk.raw"
    img.write_bytes(os.urandom(4096))
    image = httpx.post(f"{base}/api/v1/images", json={"name": "b", "source": str(img)}, auth=auth).json()
    token = httpx.post(f"{base}/api/v1/tokens", json={}, auth=auth).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(headers=headers, timeout=60) as c:
        t0 = time.perf_counter()
        ids = []
        for _ in range(args.vms):
            r = c.post(f"{base}/api/v1/vms", json={"image": image["id"]})
            ids.append(r.json()["vms"][0]["id"])
        for vm_id in ids:
            c.delete(f"{base}/api/v1/vms/{vm_id}")
        while c.get(f"{base}/api/v1/vms", params={"limit": 1}).json()["total"] > 1:
            time.sleep(0.05)
        create_delete = time.perf_counter() - t0
        vm = c.post(f"{base}/api/v1/vms", json={"image": image["id"]}).json()["vms"][0]
    # warm-up (schema generation, connection pools, first-call imports) is not measured
    asyncio.run(hammer(f"{base}/api/v1/openapi.json", {}, 200, args.concurrency))
    asyncio.run(hammer(f"{base}/api/v1/vms/{vm['id']}", headers, 200, args.concurrency))
    t0 = time.perf_counter()
    base_lat = asyncio.run(hammer(f"{base}/api/v1/openapi.json", {}, args.requests, args.concurrency))
    base_rate = args.requests / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    get_lat = asyncio.run(hammer(f"{base}/api/v1/vms/{vm['id']}", headers, args.requests,
                                 args.concurrency))
    get_rate = args.requests / (time.perf_counter() - t0)
    print(f"machine: {os.cpu_count()} cores; {args.requests} GETs at concurrency {args.concurrency}")
    print(f"VM create+delete: {args.vms} VMs in {create_delete:.2f} s = "
          f"{args.vms / create_delete:.1f} VMs/s (through deploy and epilog jobs)")
    print(f"baseline GET /api/v1/openapi.json: p50 {pct(base_lat, .5):.1f} ms  p99 {pct(base_lat, .99):.1f} ms")
    print(f"GET /api/v1/vms/ID (token auth):   p50 {pct(get_lat, .5):.1f} ms  p99 {pct(get_lat, .99):.1f} ms")
    print(f"ratio GET vm / baseline: p50 {pct(get_lat, .5) / pct(base_lat, .5):.2f}x  "
          f"p99 {pct(get_lat, .99) / pct(base_lat, .99):.2f}x  (target p50 < 10 ms, p99 < 50 ms)")
    print(f"throughput: baseline {base_rate:.0f} req/s, GET vm {get_rate:.0f} req/s "
          f"(at concurrency {args.concurrency}, p50 is about concurrency / throughput); "
          f"mean GET vm {statistics.mean(get_lat) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
