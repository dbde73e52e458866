"""The CDMI 1.1 front end: one route under the prefix that reads the request's own path.

CDMI requests (a version header or a CDMI media type) get CDMI JSON; other requests read and
write raw bytes (non-CDMI access, with HTTP Range).  Uploads stream from the socket into the
blob store on a worker thread, never held whole in memory.  Errors carry a JSON body with the
message and the way out, at the status of the error's kind.  Imports core, services and this
package (plus the one HTTP status table of `api`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from typing import Any

import anyio.from_thread
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from stratuslab.api.cdmi import render, wire
from stratuslab.api.http_status import http_status
from stratuslab.core.entities import Principal
from stratuslab.core.errors import CloudError, InvalidInput, NotFound, Unsupported
from stratuslab.core.objects import StoredObject, is_object_id
from stratuslab.services.objects import LISTING, ObjectService

MAX_CDMI_BODY = 48 * 1024 * 1024  # a CDMI JSON body carries its value inline
MAX_JSON_VALUE = 32 * 1024 * 1024  # larger values: non-CDMI GET or value ranges
Authenticate = Callable[[Request], Principal]


class PreconditionFailed(CloudError):
    pass


def create_router(service: ObjectService, authenticate: Authenticate, *,
                  prefix: str = "/cdmi") -> APIRouter:
    handler = CdmiHandler(service, authenticate, prefix)
    router = APIRouter()
    for path in (prefix, prefix + "/{path:path}"):
        router.add_api_route(path, handler.handle, include_in_schema=False,
                             methods=["GET", "HEAD", "PUT", "POST", "DELETE"])
    return router


class CdmiHandler:
    def __init__(self, service: ObjectService, authenticate: Authenticate, prefix: str) -> None:
        self.service = service
        self.authenticate = authenticate
        self.prefix = prefix

    async def handle(self, request: Request) -> Response:
        version: str | None = None
        try:
            version = wire.negotiate(request.headers.get(wire.VERSION_HEADER))
            cdmi = wire.is_cdmi(request.headers.get("content-type"),
                                request.headers.get("accept"), version)
            principal = await run_in_threadpool(self.authenticate, request)
            response = await self._route(request, principal, cdmi)
        except PreconditionFailed as exc:
            response = _error(412, exc)
        except CloudError as exc:
            response = _error(http_status(exc), exc)
            if response.status_code == 401:
                response.headers["WWW-Authenticate"] = 'Basic realm="stratuslab"'
        if version is not None or wire.media(response.headers.get("content-type")).startswith(
                "application/cdmi"):
            response.headers[wire.VERSION_HEADER] = wire.ANSWER_VERSION
        return response

    async def _route(self, request: Request, principal: Principal, cdmi: bool) -> Response:
        raw = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
        rest = raw[len(self.prefix):]
        if rest.startswith("/cdmi_capabilities"):
            return await self._capabilities(request, principal, rest)
        if rest.startswith("/cdmi_objectid/"):
            oid = rest[len("/cdmi_objectid/"):].strip("/")
            if not is_object_id(oid):
                raise NotFound("object ID", oid[:60], LISTING)
            obj = await run_in_threadpool(self.service.by_id, principal, oid)
            return await self._on_object(request, principal, obj, cdmi, path=None)
        parts, is_container = wire.path_parts(raw, self.prefix)
        method = request.method
        if method == "PUT":
            return await self._put(request, principal, parts, is_container, cdmi)
        if not parts:
            if method not in ("GET", "HEAD"):
                raise InvalidInput(f"{method} on the root container is not allowed",
                                   hint="create containers under it: PUT /cdmi/NAME/")
            return await self._root(request, principal)
        try:
            obj = await run_in_threadpool(self.service.resolve, principal, parts)
        except NotFound:  # named as asked (a container with its slash)
            asked = "/" + "/".join(parts) + ("/" if is_container else "")
            raise NotFound("object", asked, LISTING) from None
        return await self._on_object(request, principal, obj, cdmi, path=parts)

    # -- reading ------------------------------------------------------------------------------
    async def _capabilities(self, request: Request, principal: Principal, rest: str) -> Response:
        which = rest[len("/cdmi_capabilities"):].lstrip("/")
        if which not in render.CAPS_ID or request.method not in ("GET", "HEAD"):
            raise NotFound("capability", which or "/", "GET /cdmi/cdmi_capabilities/")
        used, quota = await run_in_threadpool(self.service.usage, principal)
        doc = render.capability(which, prefix=self.prefix, used=used, quota=quota)
        return _json(render.select(doc, _names(request)), wire.CAPABILITY)

    async def _root(self, request: Request, principal: Principal) -> Response:
        tops = await run_in_threadpool(self.service.top_level, principal)
        doc = {"objectType": wire.CONTAINER, "objectName": "/", "parentURI": "/",
               "capabilitiesURI": f"{self.prefix}/cdmi_capabilities/container/",
               "completionStatus": "Complete", "metadata": {},
               "childrenrange": f"0-{len(tops) - 1}" if tops else "",
               "children": [o.name + "/" for o in tops if o.name]}
        return _json(render.select(doc, _names(request)), wire.CONTAINER)

    async def _document(self, obj: StoredObject) -> dict[str, Any]:
        path = await run_in_threadpool(self.service.path_of, obj)
        return render.base_document(obj, prefix=self.prefix, path=path, parent_id=obj.parent)

    async def _on_object(self, request: Request, principal: Principal, obj: StoredObject,
                         cdmi: bool, path: list[str] | None) -> Response:
        method = request.method
        if method == "DELETE":
            _check_if_match(request, obj)
            await run_in_threadpool(self.service.delete, principal, obj)
            return Response(status_code=204)
        if method == "PUT":  # by ID: new metadata and/or value for an existing object
            return await self._update(request, principal, obj)
        if method == "POST":
            return await self._post(request, principal, obj)
        if obj.kind == "container":
            return await self._container(request, obj)
        if not cdmi:
            return await self._raw(request, obj)
        return await self._data(request, obj)

    async def _container(self, request: Request, obj: StoredObject) -> Response:
        doc = await self._document(obj)
        names = _names(request)
        children_range = _field_arg(request, "children")
        start, end = wire.parse_range(children_range, "children") if children_range else (0, None)
        kids, total = await run_in_threadpool(self.service.children, obj, start, end)
        if kids:
            doc["childrenrange"] = f"{start}-{start + len(kids) - 1}"
        else:
            doc["childrenrange"] = ""
        doc["children"] = [(k.name or "") + ("/" if k.kind == "container" else "") for k in kids]
        if children_range and start >= total and total:
            raise InvalidInput(f"children range {children_range} is beyond the {total} children")
        return _json(render.select(doc, names), wire.CONTAINER)

    async def _data(self, request: Request, obj: StoredObject) -> Response:
        doc = await self._document(obj)
        names = _names(request)
        value_range = _field_arg(request, "value")
        if not names or "value" in names or "valuerange" in names or "valuetransferencoding" in names:
            start, end = wire.parse_range(value_range, "value") if value_range else (0, obj.size - 1)
            if obj.size and start >= obj.size:
                raise InvalidInput(f"value range {value_range} starts beyond the object's "
                                   f"{obj.size} bytes")
            end = min(end, obj.size - 1)
            if end - start + 1 > MAX_JSON_VALUE:
                raise InvalidInput(f"the value is {obj.size} bytes; a CDMI JSON answer carries "
                                   f"at most {MAX_JSON_VALUE}",
                                   hint="GET it without CDMI headers (raw bytes), or ask for "
                                        "?value:FIRST-LAST ranges")
            data = b"".join(await run_in_threadpool(
                lambda: list(self.service.read(obj, start, end + 1))))
            doc.update(render.value_fields(data, obj.mimetype, start))
        return _json(render.select(doc, names), wire.OBJECT, etag=obj.sha256)

    async def _raw(self, request: Request, obj: StoredObject) -> Response:
        headers = {"ETag": f'"{obj.sha256}"', "Accept-Ranges": "bytes"}
        start, end, status = 0, obj.size, 200
        if "range" in request.headers:
            wanted = wire.http_range(request.headers["range"], obj.size)
            if wanted is None:
                return Response(status_code=416, headers={"Content-Range": f"bytes */{obj.size}"})
            (start, end), status = wanted, 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{obj.size}"
        headers["Content-Length"] = str(end - start)
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers, media_type=obj.mimetype)
        return StreamingResponse(self.service.read(obj, start, end), status_code=status,
                                 headers=headers, media_type=obj.mimetype)

    # -- writing ------------------------------------------------------------------------------
    async def _put(self, request: Request, principal: Principal, parts: list[str],
                   is_container: bool, cdmi: bool) -> Response:
        if not parts:
            raise InvalidInput("the root container cannot be replaced")
        content_type = wire.media(request.headers.get("content-type"))
        if is_container:
            body = await _cdmi_body(request) if content_type == wire.CONTAINER else {}
            _refuse_unsupported(body)
            obj, created = await run_in_threadpool(
                self.service.make_container, principal, parts, body.get("metadata"))
            return _json(await self._document(obj), wire.CONTAINER, status=201 if created else 204)
        existing = await _maybe(self.service.resolve, principal, parts)
        if existing is not None:
            _check_if_match(request, existing)
        if content_type == wire.OBJECT:
            body = await _cdmi_body(request)
            _refuse_unsupported(body)
            value = _decode_value(body)
            obj, created = await run_in_threadpool(
                lambda: self.service.put_data(principal, parts, [value],
                                              mimetype=str(body.get("mimetype") or "text/plain"),
                                              metadata=body.get("metadata")))
            return _json(await self._document(obj), wire.OBJECT, status=201 if created else 204,
                         etag=obj.sha256)
        mimetype = content_type or "application/octet-stream"
        chunks = _stream(request)
        obj, created = await run_in_threadpool(
            lambda: self.service.put_data(principal, parts, chunks, mimetype=mimetype, metadata={}))
        return Response(status_code=201 if created else 204, headers={"ETag": f'"{obj.sha256}"'})

    async def _update(self, request: Request, principal: Principal, obj: StoredObject) -> Response:
        _check_if_match(request, obj)
        body = await _cdmi_body(request)
        _refuse_unsupported(body)
        if "value" in body and obj.kind == "object":
            path = await run_in_threadpool(self.service.path_of, obj)
            if not path:
                raise Unsupported("replacing the value of an object made by POST")
            value = _decode_value(body)
            obj, _ = await run_in_threadpool(
                lambda: self.service.put_data(principal, path.strip("/").split("/"), [value],
                                              mimetype=str(body.get("mimetype") or obj.mimetype),
                                              metadata=body.get("metadata", obj.metadata)))
        elif "metadata" in body:
            obj = await run_in_threadpool(self.service.update_metadata, principal, obj,
                                          body["metadata"])
        return Response(status_code=204)

    async def _post(self, request: Request, principal: Principal, container: StoredObject
                    ) -> Response:
        body = await _cdmi_body(request)
        _refuse_unsupported(body)
        value = _decode_value(body)
        obj = await run_in_threadpool(
            lambda: self.service.post_data(principal, container, [value],
                                           mimetype=str(body.get("mimetype") or "text/plain"),
                                           metadata=body.get("metadata")))
        doc = await self._document(obj)
        return _json(doc, wire.OBJECT, status=201, etag=obj.sha256,
                     headers={"Location": f"{self.prefix}/cdmi_objectid/{obj.object_id}"})


# -- helpers ----------------------------------------------------------------------------------
def _names(request: Request) -> list[str]:
    return [f.name for f in wire.fields(request.url.query)]


def _field_arg(request: Request, name: str) -> str | None:
    return next((f.arg for f in wire.fields(request.url.query) if f.name == name), None)


def _json(doc: dict[str, Any], media: str, *, status: int = 200, etag: str | None = None,
          headers: dict[str, str] | None = None) -> Response:
    extra = dict(headers or {})
    if etag:
        extra["ETag"] = f'"{etag}"'
    if status == 204:
        return Response(status_code=204, headers=extra)
    return JSONResponse(doc, status_code=status, media_type=media, headers=extra)


def _error(status: int, exc: CloudError) -> Response:
    return JSONResponse({"error": exc.message, "hint": exc.hint}, status_code=status)


def _check_if_match(request: Request, obj: StoredObject) -> None:
    wanted = request.headers.get("if-match")
    if wanted and wanted.strip() not in ("*", f'"{obj.sha256}"'):
        raise PreconditionFailed(f"object {obj.object_id} has changed (ETag \"{obj.sha256}\")",
                                 hint="GET it again and retry with its current ETag")


async def _maybe(fn: Callable[..., StoredObject], *args: Any) -> StoredObject | None:
    try:
        return await run_in_threadpool(fn, *args)
    except NotFound:
        return None


async def _cdmi_body(request: Request) -> dict[str, Any]:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_CDMI_BODY:
            raise InvalidInput(f"a CDMI JSON body is at most {MAX_CDMI_BODY} bytes",
                               hint="send large values without CDMI headers (raw PUT)")
    if not data:
        return {}
    try:
        body = json.loads(data)
    except ValueError as exc:
        raise InvalidInput(f"the CDMI body is not valid JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise InvalidInput("the CDMI body must be a JSON object")
    return body


def _refuse_unsupported(body: dict[str, Any]) -> None:
    for key in ("copy", "move", "deserialize", "serialize", "reference", "deserializevalue"):
        if key in body:
            raise Unsupported(f"CDMI '{key}'")


def _decode_value(body: dict[str, Any]) -> bytes:
    value = body.get("value", "")
    if not isinstance(value, str):
        raise InvalidInput("'value' must be a string")
    encoding = body.get("valuetransferencoding", "utf-8")
    if encoding == "utf-8":
        return value.encode()
    if encoding == "base64":
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidInput("'value' is not valid base64 (valuetransferencoding base64)") from exc
    raise InvalidInput(f"valuetransferencoding {str(encoding)[:40]!r} is not supported",
                       hint="use utf-8 or base64")


def _stream(request: Request) -> Iterator[bytes]:
    """The request body as a plain iterator for a worker thread (pulls from the event loop)."""
    source = request.stream().__aiter__()

    async def pull() -> bytes:
        return await source.__anext__()

    while True:
        try:
            yield anyio.from_thread.run(pull)
        except StopAsyncIteration:
            return
