"""Wiring of the cloud's load and metrics: the stats repository, CloudStats over the served
nodes (the `proc` monitoring driver for the embedded node), /api/v1/cloud/load and /metrics
with its latency middleware."""

from __future__ import annotations

from fastapi import APIRouter, Request

from stratuslab.api.credentials import credentials_from_scope
from stratuslab.api.metrics import PrometheusMetrics
from stratuslab.api.rest import routes_cloud
from stratuslab.bootstrap.wiring import Wiring
from stratuslab.core.entities import Principal
from stratuslab.drivers.monitoring.proc import host_capacity
from stratuslab.persistence.stats import SqlStatsRepo
from stratuslab.services.cloudstats import REPO, CloudStats


def wire(w: Wiring) -> None:
    w.uow.register(REPO, SqlStatsRepo)
    stats = CloudStats(w.uow, {name: host_capacity for name in w.nodes})
    w.services["cloudstats"] = stats
    api = APIRouter(prefix="/api/v1")
    api.include_router(routes_cloud.router)
    w.routers.append(api)
    metrics = PrometheusMetrics(stats)

    def authenticate(request: Request) -> Principal:
        assert w.authenticate is not None
        return w.authenticate(credentials_from_scope(request.scope))  # type: ignore[no-any-return]

    w.routers.append(metrics.router(authenticate))
    w.middlewares.append((_Latency, {"metrics": metrics}))


class _Latency:
    """ASGI middleware class for Wiring.middlewares (which takes a class and its options)."""

    def __init__(self, app: object, metrics: PrometheusMetrics) -> None:
        self._app = metrics.middleware(app)  # type: ignore[arg-type]

    async def __call__(self, scope: object, receive: object, send: object) -> None:
        await self._app(scope, receive, send)  # type: ignore[arg-type]
