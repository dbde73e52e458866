"""REST front end of the marketplace: `create_app(service) -> FastAPI`.

Paths are relative to wherever the app is mounted (`/` standalone, `/marketplace` in all-in-one).
Representations by Accept (or `?format=xml|json|html`): XML = the signed originals (default, as
the original server), JSON, HTML for browsing.  Uploads are read in chunks and refused past
`max_body` bytes, so a 2 GB body is never held in memory.  CloudError kinds map to HTTP statuses in
`api/http_status.py` only.  Imports core and services; never drivers, persistence or settings.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)

from stratuslab.api.http_status import http_status
from stratuslab.api.marketplace import render
from stratuslab.core.errors import CloudError
from stratuslab.core.marketplace import (
    EMAIL_RE,
    EntryNotFound,
    EntryQuery,
    EntryStatus,
    InvalidMetadata,
    format_date,
    parse_date,
)
from stratuslab.services.marketplace.service import MarketplaceService

DEFAULT_MAX_BODY = 10 * 1024 * 1024
XML = "application/xml"


class BodyTooLarge(InvalidMetadata):
    pass


def _wants(request: Request) -> str:
    fmt = request.query_params.get("format", "").lower()
    if fmt in ("xml", "json", "html"):
        return fmt
    accept = request.headers.get("accept", "").lower()
    if "application/json" in accept:
        return "json"
    if "text/html" in accept:
        return "html"
    return "xml"


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"body of {declared} bytes is larger than the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _query(request: Request, **fixed: Any) -> EntryQuery:
    p = request.query_params
    status_text = p.get("status", "valid").lower()
    status = EntryStatus(status_text) if status_text in EntryStatus._value2member_map_ else EntryStatus.ALL
    try:
        offset, limit = int(p.get("offset", "0")), int(p.get("limit", "100"))
    except ValueError as exc:
        raise InvalidMetadata("offset and limit must be integers") from exc
    values: dict[str, Any] = {
        "status": status,
        "identifier": p.get("identifier") or None,
        "email": p.get("endorser") or p.get("email") or None,
        "created": parse_date(p["created"]) if p.get("created") else None,
        "os": p.get("os") or None,
        "arch": p.get("arch") or None,
        "kind": p.get("kind") or None,
        "tag": p.get("tag") or None,
        "text": p.get("q") or None,
        "offset": offset,
        "limit": limit,
    }
    values.update({k: v for k, v in fixed.items() if v is not None})
    return EntryQuery(**values)


def create_app(service: MarketplaceService, *, max_body: int = DEFAULT_MAX_BODY) -> FastAPI:
    """The marketplace app; `max_body` bounds an upload (bytes), refused with 413 beyond it."""
    app = FastAPI(title="StratusLab Marketplace", docs_url=None, redoc_url=None, openapi_url=None)
    _errors_and_home(app)
    _upload_route(app, service, max_body)
    _query_routes(app, service)
    _endorser_and_policy_routes(app, service)
    return app


def _errors_and_home(app: FastAPI) -> None:
    @app.exception_handler(CloudError)
    async def _cloud_error(request: Request, exc: CloudError) -> Response:
        status = http_status(exc)
        headers = {}
        if isinstance(exc, BodyTooLarge):
            # close instead of draining the rest of a huge upload
            status, headers = 413, {"Connection": "close"}
        if _wants(request) == "json":
            return JSONResponse({"error": exc.message, "hint": exc.hint}, status_code=status,
                                headers=headers)
        return PlainTextResponse(exc.full_message, status_code=status, headers=headers)

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        if not request.url.path.endswith("/"):
            return RedirectResponse(request.url.path + "/")
        body = render.html_search_form() + '<p>Upload signed metadata with ' \
            "<code>stratus upload-metadata FILE</code>.</p>"
        return HTMLResponse(render.html_page("StratusLab Marketplace", body))


def _upload_route(app: FastAPI, service: MarketplaceService, max_body: int) -> None:
    @app.post("/metadata", status_code=201)
    async def upload(request: Request) -> Response:
        raw = await _read_limited(request, max_body)
        if not raw.strip():
            raise InvalidMetadata("empty body")
        stored = await run_in_threadpool(service.upload, raw)
        e = stored.entry
        location = str(request.url_for(
            "entry", identifier=e.identifier, email=e.email, created=format_date(e.created)))
        if _wants(request) == "json":
            return JSONResponse(render.entry_json(stored), status_code=201, headers={"Location": location})
        return PlainTextResponse(location + "\n", status_code=201, headers={"Location": location})


def _query_routes(app: FastAPI, service: MarketplaceService) -> None:
    @app.get("/metadata")
    def search(request: Request) -> Response:
        page = service.search(_query(request))
        return _entries(request, page, "Images", prefix="")

    @app.get("/metadata/{first}")
    def by_first(request: Request, first: str) -> Response:
        fixed = {"email": first} if EMAIL_RE.match(first) else {"identifier": first}
        page = service.search(_query(request, **fixed))
        if not page.entries:
            raise EntryNotFound(first)
        return _entries(request, page, first, prefix="../")

    @app.get("/metadata/{identifier}/{email}")
    def by_pair(request: Request, identifier: str, email: str) -> Response:
        page = service.search(_query(request, identifier=identifier, email=email))
        if not page.entries:
            raise EntryNotFound(f"{identifier}/{email}")
        return _entries(request, page, f"{identifier} by {email}", prefix="../../")

    @app.get("/metadata/{identifier}/{email}/{created}", name="entry")
    def entry(request: Request, identifier: str, email: str, created: str) -> Response:
        stored = service.get(identifier, email, created)
        fmt = _wants(request)
        if fmt == "json":
            return JSONResponse(render.entry_json(stored))
        if fmt == "html":
            body = render.html_entry(stored, prefix="../../../")
            return HTMLResponse(render.html_page(identifier, body, prefix="../../../"))
        return Response(stored.raw, media_type=XML)


def _endorser_and_policy_routes(app: FastAPI, service: MarketplaceService) -> None:
    @app.get("/endorsers")
    def endorsers(request: Request) -> Response:
        found = service.endorsers()
        fmt = _wants(request)
        if fmt == "json":
            return JSONResponse({"endorsers": [render.endorser_json(s) for s in found]})
        if fmt == "html":
            return HTMLResponse(render.html_page("Endorsers", render.html_endorsers(found)))
        return Response(render.endorsers_xml(found), media_type=XML)

    @app.get("/endorsers/{email}")
    def endorser(
        request: Request, email: str, limit: Annotated[int, Query(ge=1, le=1000)] = 1000
    ) -> Response:
        summary, history = service.endorser(email)
        fmt = _wants(request)
        if fmt == "json":
            return JSONResponse(render.endorser_json(summary)
                                | {"history": [render.entry_json(s) for s in history[:limit]]})
        if fmt == "html":
            body = render.html_endorsers([summary], prefix="../") + render.html_entries(
                history, prefix="../")
            return HTMLResponse(render.html_page(email, body, prefix="../"))
        return Response(render.entries_xml(history), media_type=XML)

    @app.get("/policy/{identifier}")
    def policy(identifier: str) -> Response:
        """The site policy's verdict on each latest entry of an image (stratus policy-image)."""
        verdicts = service.explain(identifier)
        return JSONResponse({
            "identifier": identifier,
            "allowed": any(v.allowed for v in verdicts),
            "verdicts": [
                {"email": v.email, "allowed": v.allowed, "reasons": list(v.reasons)} for v in verdicts
            ],
        })


def _entries(request: Request, page: Any, title: str, *, prefix: str) -> Response:
    fmt = _wants(request)
    headers = {"X-Total-Count": str(page.total)}
    if fmt == "json":
        return JSONResponse(render.page_json(page), headers=headers)
    if fmt == "html":
        body = render.html_search_form(prefix) + render.html_entries(
            page.entries, prefix=prefix, total=page.total)
        return HTMLResponse(render.html_page(title, body, prefix=prefix), headers=headers)
    return Response(render.entries_xml(page.entries), media_type=XML, headers=headers)
