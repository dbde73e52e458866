"""/api/v1/docs works offline: the Swagger UI page loads nothing from another host, and every
asset it names is served by the cloud itself (from the swagger-ui-bundle package)."""

from __future__ import annotations

import re

import httpx
import pytest
from tests.helpers.servers import Server

pytestmark = pytest.mark.e2e


def test_swagger_ui_assets_come_from_the_cloud(server: Server) -> None:
    page = httpx.get(server.endpoint + "/api/v1/docs", timeout=30)
    assert page.status_code == 200, page.text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: *["']([^"']+)["']""", page.text)
    named = [a or b for a, b in urls]
    assert named and not [u for u in named if "://" in u or u.startswith("//")], named
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in named
    for url in named:
        got = httpx.get(server.endpoint + url, timeout=30)
        assert got.status_code == 200 and got.content, url
    assert ".swagger-ui" in httpx.get(server.endpoint + "/api/v1/docs/assets/swagger-ui.css").text
    assert httpx.get(server.endpoint + "/api/v1/docs/assets/no-such.js").status_code == 404
