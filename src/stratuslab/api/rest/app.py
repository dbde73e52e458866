"""REST application factory: the FastAPI app, its error handlers and the core routes."""

from __future__ import annotations

from fastapi import FastAPI

from stratuslab.api.rest import (
    docs,
    errors,
    routes_admin,
    routes_quarantine,
    routes_quotas,
    routes_vms,
)
from stratuslab.services.catalog import CloudServices


def create_app(services: CloudServices, *, version: str) -> FastAPI:
    app = FastAPI(
        title="StratusLab", version=version,
        openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None,
    )
    docs.install(app, "/api/v1/openapi.json")  # Swagger UI with its assets from the package
    app.state.services = services
    errors.install(app)
    app.include_router(routes_vms.router, prefix="/api/v1")
    app.include_router(routes_admin.router, prefix="/api/v1")
    app.include_router(routes_quarantine.router, prefix="/api/v1")
    app.include_router(routes_quotas.router, prefix="/api/v1")
    return app
