"""Swagger UI at /api/v1/docs with its assets served from the installed swagger-ui-bundle
package (/api/v1/docs/assets/...), so the page works on a site without Internet access."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS = "/api/v1/docs"
ASSETS = f"{DOCS}/assets"


def install(app: FastAPI, openapi_url: str) -> None:
    """Serve the documentation page and its JavaScript, CSS and icon, all from the package."""
    app.mount(ASSETS, StaticFiles(directory=Path(str(swagger_ui_bundle.swagger_ui_path))),
              name="swagger-ui-assets")

    @app.get(DOCS, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
