"""HTTP concerns of the OCCI front end: version check, content negotiation, request bodies in
any of the four renderings, responses, and the CloudError kind -> HTTP status table.

Imports only core, this package, Starlette/FastAPI request/response types and the standard
library.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

from stratuslab.api.http_status import http_status
from stratuslab.api.occi import jsonfmt, textfmt
from stratuslab.api.occi.model import Category, Entity, Registry
from stratuslab.api.occi.textfmt import Header, OcciError
from stratuslab.core.errors import CloudError, ErrorKind

OCCI_VERSION = (1, 2)
SERVER = "StratusLab OCCI/1.2"
JSON_TYPES = ("application/occi+json", "application/json")
TEXT_TYPES = ("text/plain", "text/occi", "text/uri-list")
MAX_PAGE = 1000



def check_version(request: Request) -> None:
    """A client announcing a newer OCCI than 1.2 gets 501 (OCCI HTTP Protocol, versioning)."""
    agent = request.headers.get("user-agent", "")
    match = re.search(r"OCCI/(\d+)\.(\d+)", agent)
    if match and (int(match.group(1)), int(match.group(2))) > OCCI_VERSION:
        raise OcciError(
            501,
            f"OCCI/{match.group(1)}.{match.group(2)} is not implemented; "
            "this server speaks OCCI/1.2",
        )


def _media(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def accepted(request: Request) -> str:
    """The rendering to answer with, from the Accept header (text/plain by default)."""
    header = request.headers.get("accept", "")
    if not header.strip():
        return "text/plain"
    for item in header.split(","):
        media = _media(item)
        if media in JSON_TYPES:
            return "application/occi+json"
        if media in TEXT_TYPES:
            return media
        if media in ("*/*", "text/*"):
            return "text/plain"
    raise OcciError(
        406,
        f"none of {header!r} is offered; use text/plain, text/occi, "
        "text/uri-list or application/occi+json",
    )


@dataclass(frozen=True, slots=True)
class Body:
    """A request's OCCI content: header lines (text renderings) or a JSON object."""

    lines: Sequence[Header]
    json: dict[str, Any] | None


async def read_body(request: Request) -> Body:
    media = _media(request.headers.get("content-type"))
    raw = await request.body()
    header_lines = textfmt.lines_from_headers(request.headers.items())
    if media in JSON_TYPES:
        return Body(header_lines, jsonfmt.loads(raw))
    if media in ("", "text/occi", "application/x-www-form-urlencoded") or not raw.strip():
        return Body(header_lines, None)
    if media == "text/plain":
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise textfmt.bad("the text/plain body is not UTF-8") from None
        return Body(header_lines + textfmt.lines_from_body(text), None)
    raise OcciError(415, f"content type {media!r} is not an OCCI rendering")


def parse_entity(body: Body, registry: Registry) -> Entity:
    if body.json is not None:
        return jsonfmt.parse_entity(body.json, registry)
    return textfmt.parse_entity(body.lines, registry)


def parse_action(body: Body, registry: Registry) -> tuple[Category, dict[str, Any]]:
    if body.json is not None:
        return jsonfmt.parse_action(body.json, registry)
    return textfmt.parse_action(body.lines, registry)


def parse_update(body: Body) -> dict[str, Any]:
    """The attributes of a partial update (POST on an instance, no action)."""
    if body.json is not None:
        attrs = body.json.get("attributes", {})
        if not isinstance(attrs, dict):
            raise textfmt.bad('"attributes" must be an object')
        updates = dict(attrs)
        if "title" in body.json:
            updates["occi.core.title"] = body.json["title"]
    else:
        updates = dict(textfmt.parse_attribute(v) for n, v in body.lines if n == "X-OCCI-Attribute")
    if not updates:
        raise textfmt.bad("the update carries no attribute to change")
    return updates


def parse_filter(body: Body, registry: Registry) -> tuple[list[Category], dict[str, Any]]:
    if body.json is not None:
        return jsonfmt.parse_mixin_filter(body.json, registry), {}
    attrs = dict(textfmt.parse_attribute(v) for n, v in body.lines if n == "X-OCCI-Attribute")
    return textfmt.parse_filter(body.lines, registry), attrs


# ---- responses -------------------------------------------------------------------------


def _text(lines: Iterable[Header], media: str, status: int = 200) -> Response:
    lines = list(lines)
    if media == "text/occi":
        response = Response("OK\n", status_code=status, media_type="text/occi")
        for name, value in lines:
            response.headers.append(name, value)
        return response
    return Response(textfmt.to_body(lines) or "OK\n", status_code=status, media_type="text/plain")


def entity_response(entity: Entity, media: str, registry: Registry) -> Response:
    if media == "application/occi+json":
        return json_response(jsonfmt.entity_json(entity))
    if media == "text/uri-list":
        raise OcciError(400, "text/uri-list only renders collections")
    return _text(textfmt.render_entity(entity, registry), media)


def collection_response(
    entities: Sequence[Entity], media: str, base: str, *, links: bool = False
) -> Response:
    if media == "application/occi+json":
        return json_response(jsonfmt.collection_json(entities, links=links))
    locations = [base + (e.location or "") for e in entities]
    if media == "text/uri-list":
        return Response("".join(f"{loc}\n" for loc in locations), media_type="text/uri-list")
    return _text(textfmt.render_locations(locations), media)


def query_response(categories: Sequence[Category], media: str) -> Response:
    if media == "application/occi+json":
        return json_response(jsonfmt.query_json(categories))
    if media == "text/uri-list":
        raise OcciError(400, "text/uri-list cannot render the query interface")
    return _text(textfmt.render_categories(categories), media)


def created_response(location: str, base: str, media: str, entity: Entity | None) -> Response:
    absolute = base + location
    if media == "application/occi+json" and entity is not None:
        response = json_response(jsonfmt.entity_json(entity), status=201)
    elif media == "text/uri-list":
        response = Response(absolute + "\n", status_code=201, media_type="text/uri-list")
    else:
        response = _text([("X-OCCI-Location", absolute)], media, status=201)
    response.headers["Location"] = absolute
    return response


def json_response(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status_code=status, media_type="application/occi+json")


def error_response(status: int, message: str) -> Response:
    return Response(message.rstrip() + "\n", status_code=status, media_type="text/plain")


def cloud_error_response(exc: CloudError) -> Response:
    response = error_response(http_status(exc), exc.full_message)
    if exc.kind is ErrorKind.AUTHENTICATION:
        response.headers["WWW-Authenticate"] = 'Basic realm="StratusLab OCCI"'
    return response


def page(items: Sequence[Any], request: Request) -> Sequence[Any]:
    """OCCI 1.2 paging: ?page=N (1-based) &number=M; 413 when M exceeds the server maximum."""
    raw_page, raw_number = request.query_params.get("page"), request.query_params.get("number")
    if raw_page is None and raw_number is None:
        return items
    try:
        number = int(raw_number) if raw_number is not None else MAX_PAGE
        page_no = int(raw_page) if raw_page is not None else 1
    except ValueError:
        raise OcciError(400, "page and number must be integers") from None
    if number > MAX_PAGE:
        raise OcciError(413, f"number={number} exceeds the maximum page size {MAX_PAGE}")
    if number < 1 or page_no < 1:
        raise OcciError(400, "page and number start at 1")
    return items[(page_no - 1) * number : page_no * number]
