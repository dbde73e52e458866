"""Wiring of the cloud's load and metrics: the stats repository, CloudStats over the served
nodes (the `proc` monitoring driver for the embedded node), /api/v1/cloud/load and /metrics
with its latency middleware."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from stratuslab.api.credentials import credentials_from_scope
from stratuslab.api.metrics import PrometheusMetrics
from stratuslab.api.rest import routes_cloud
from stratuslab.bootstrap.wiring import Core, FeatureParts
from stratuslab.core.entities import Principal
from stratuslab.drivers.monitoring.proc import host_capacity
from stratuslab.persistence.stats import SqlStatsRepo
from stratuslab.services.catalog import Authenticate
from stratuslab.services.cloudstats import REPO, CloudStats


@dataclass(frozen=True)
class MonitoringFeature:
    stats: CloudStats
    parts: FeatureParts


def wire(core: Core, authenticate: Authenticate) -> MonitoringFeature:
    core.uow.register(REPO, SqlStatsRepo)
    stats = CloudStats(core.uow, {name: host_capacity for name in core.nodes})
    api = APIRouter(prefix="/api/v1")
    api.include_router(routes_cloud.router)
    metrics = PrometheusMetrics(stats)

    def principal(request: Request) -> Principal:
        return authenticate(credentials_from_scope(request.scope))

    return MonitoringFeature(stats, FeatureParts(
        routers=(api, metrics.router(principal)),
        middlewares=(Middleware(_Latency, metrics=metrics),),
    ))


class _Latency:
    """The metrics' latency middleware as an ASGI middleware class (what Starlette adds)."""

    def __init__(self, app: ASGIApp, metrics: PrometheusMetrics) -> None:
        self._app = metrics.middleware(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)
