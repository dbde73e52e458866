"""Prometheus metrics of the front end at GET /metrics (administrators, or a scraper holding an
administrator's token): the cloud's load (VMs by state, jobs by kind and state, hosts' capacity
and allocation) read at every scrape, and API latency per route template and status measured by
a middleware.  Each cloud has its own registry (no process-wide state).  Imports core and
services (types), plus the one HTTP status table of `api`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stratuslab.api.http_status import http_status
from stratuslab.core.entities import Principal
from stratuslab.core.errors import CloudError, Forbidden
from stratuslab.services.cloudstats import CloudStats

MIB = 1024 * 1024


class CloudCollector:
    """Read at every scrape: the numbers are the database's, never a cache that can drift."""

    def __init__(self, stats: CloudStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        load = self.stats.load()
        vms = GaugeMetricFamily("stratuslab_vms", "VMs by state", labels=["state"])
        for state, n in sorted(load.vms_by_state.items()):
            vms.add_metric([state], n)
        jobs = GaugeMetricFamily("stratuslab_jobs", "jobs by kind and state",
                                 labels=["kind", "state"])
        for (kind, state), n in sorted(load.jobs.items()):
            jobs.add_metric([kind, state], n)
        users = GaugeMetricFamily("stratuslab_users", "user accounts", value=load.users)
        per_host = {
            "up": ("stratuslab_host_up", "1 when the host reported its capacity"),
            "cpus": ("stratuslab_host_cpus", "processors of the host"),
            "memory": ("stratuslab_host_memory_bytes", "memory of the host"),
            "load1": ("stratuslab_host_load1", "one-minute load average of the host"),
            "vcpu": ("stratuslab_host_allocated_vcpus", "vCPUs of the VMs holding the host"),
            "mem": ("stratuslab_host_allocated_memory_bytes", "memory of the VMs on the host"),
            "vms": ("stratuslab_host_vms", "VMs holding capacity on the host"),
        }
        fams = {k: GaugeMetricFamily(n, h, labels=["host"]) for k, (n, h) in per_host.items()}
        for h in load.hosts:
            cap = h.capacity
            fams["up"].add_metric([h.name], 1 if cap else 0)
            if cap:
                fams["cpus"].add_metric([h.name], cap.cpus)
                fams["memory"].add_metric([h.name], cap.memory_mib * MIB)
                fams["load1"].add_metric([h.name], cap.load1)
            fams["vcpu"].add_metric([h.name], h.allocated_vcpu)
            fams["mem"].add_metric([h.name], h.allocated_memory_mib * MIB)
            fams["vms"].add_metric([h.name], h.vms)
        yield from (vms, jobs, users, *fams.values())


class PrometheusMetrics:
    def __init__(self, stats: CloudStats) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(CloudCollector(stats))
        self.latency = Histogram(
            "stratuslab_http_request_duration_seconds", "API requests by route template",
            ["method", "route", "status"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))

    def middleware(self, app: ASGIApp) -> ASGIApp:
        return LatencyMiddleware(app, self.latency)

    def router(self, authenticate: Callable[[Request], Principal]) -> APIRouter:
        router = APIRouter()

        async def metrics(request: Request) -> Response:
            try:
                principal = await run_in_threadpool(authenticate, request)
                if not principal.is_admin:
                    raise Forbidden("metrics are for administrators",
                                    hint="scrape with an administrator's token or password")
                body = await run_in_threadpool(generate_latest, self.registry)
            except CloudError as exc:
                status = http_status(exc)
                headers = {"WWW-Authenticate": 'Basic realm="stratuslab"'} if status == 401 else {}
                return Response(exc.full_message + "\n", status_code=status,
                                media_type="text/plain", headers=headers)
            return Response(body, media_type=CONTENT_TYPE_LATEST)

        router.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
        return router


class LatencyMiddleware:
    """Times every HTTP request; the route label is the matched route's template (bounded
    cardinality: never the raw path)."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram
        self._templates: dict[int, str] | None = None  # route object -> its full path template

    def _template(self, scope: Scope) -> str:
        route: Any = scope.get("route")
        if route is None:
            return "unmatched"
        if self._templates is None:  # included routers keep router-relative paths on routes
            found: dict[int, str] = {}
            for top in getattr(scope.get("app"), "routes", ()):
                contexts = getattr(top, "effective_route_contexts", None)
                for ctx in contexts() if contexts else ():
                    found[id(getattr(ctx, "original_route", None))] = str(ctx.path)
            self._templates = found
        return self._templates.get(id(route)) or str(getattr(route, "path", "unmatched"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.histogram.labels(scope.get("method", ""), self._template(scope),
                                  str(status[0])).observe(time.perf_counter() - start)
