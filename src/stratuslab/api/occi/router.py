"""The OCCI 1.2 HTTP front end: `create_router(backend)` -> a FastAPI router to mount at /occi.

Routes: the query interface at `/-/` and `/.well-known/org/ogf/occi/-/`; kind collections
`/compute/`, `/network/`, `/storage/` and their instances; link collections
`/link/networkinterface/`, `/link/storagelink/`; template mixin collections
`/os_tpl/<term>/`, `/resource_tpl/<term>/`; each user's own mixins (tags) at the locations they
chose (POST /-/ defines one, DELETE /-/ removes it; POST/PUT/DELETE on its location tags and
untags resources, GET lists them).  Every response carries `Server: ... OCCI/1.2`.
Imports only core, this package, FastAPI/Starlette and the standard library.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from stratuslab.api.credentials import credentials_from_scope
from stratuslab.api.occi import mixins, textfmt, wire
from stratuslab.api.occi import resources as ops
from stratuslab.api.occi.backend import OcciBackend
from stratuslab.api.occi.textfmt import OcciError
from stratuslab.core.auth import Credentials
from stratuslab.core.errors import CloudError, Unsupported

log = logging.getLogger(__name__)
Work = Callable[[ops.Call, wire.Body, str], Response]
TAG_MODES = {"POST": "add", "PUT": "replace", "DELETE": "remove"}


def request_credentials(request: Request) -> Credentials:
    return credentials_from_scope(request.scope)


class _Occi:
    def __init__(self, backend: OcciBackend, prefix: str):
        self.backend = backend
        self.prefix = prefix.rstrip("/")

    def base(self, request: Request) -> str:
        """Absolute URL of the OCCI root, for X-OCCI-Location and Location headers."""
        return str(request.base_url).rstrip("/") + self.prefix

    async def run(self, request: Request, work: Work) -> Response:
        try:
            wire.check_version(request)
            media = wire.accepted(request)
            body = await wire.read_body(request)
            credentials = request_credentials(request)
            response = await run_in_threadpool(self._call, credentials, body, media, work)
        except OcciError as exc:
            response = wire.error_response(exc.status, exc.message)
        except CloudError as exc:
            response = wire.cloud_error_response(exc)
        except NotImplementedError as exc:  # a backend without its own Unsupported
            response = wire.cloud_error_response(Unsupported(str(exc) or request.url.path))
        except Exception:
            log.exception("OCCI %s %s failed", request.method, request.url.path)
            response = wire.error_response(500, "internal error; the server log has the details")
        response.headers["Server"] = wire.SERVER
        return response

    def _call(self, credentials: Credentials, body: wire.Body, media: str, work: Work) -> Response:
        principal = self.backend.authenticate(credentials)
        return work(ops.Call(self.backend, principal), body, media)

    # ---- handlers ---------------------------------------------------------------------
    async def query(self, request: Request) -> Response:
        def work(call: ops.Call, body: wire.Body, media: str) -> Response:
            if request.method == "GET":
                wanted, _ = wire.parse_filter(body, call.registry)
                return wire.query_response(ops.query(call, wanted), media)
            lines = _text_lines(body)
            if request.method == "POST":
                return wire.query_response(mixins.define(call, lines), media)
            mixins.remove(call, lines)
            return wire.query_response([], media)

        return await self.run(request, work)

    def _name(self, request: Request, *, links: bool) -> str:
        name = str(request.path_params["collection"])
        known = ops.LINK_COLLECTIONS if links else ops.KIND_COLLECTIONS
        if name not in known:
            where = f"/link/{name}/" if links else f"/{name}/"
            raise OcciError(404, f"{where} is not a collection of this server")
        return name

    async def collection(self, request: Request, *, links: bool = False) -> Response:
        base = self.base(request)

        def work(call: ops.Call, body: wire.Body, media: str) -> Response:
            user_location = f"/{request.path_params['collection']}/"
            if not links and mixins.is_user_location(call, user_location):
                return self._user_mixin(request, call, body, media, user_location)
            name = self._name(request, links=links)
            if request.method == "GET":
                categories, attrs = wire.parse_filter(body, call.registry)
                found = [e for e in ops.list_kind(call, name) if ops.matches(e, categories, attrs)]
                return wire.collection_response(wire.page(found, request), media, base, links=links)
            if request.method == "POST" and "action" not in request.query_params:
                entity = wire.parse_entity(body, call.registry)
                location = ops.create(call, name, entity)
                created = None
                if media == "application/occi+json":
                    created = ops.get_one(call, *_split(location))
                return wire.created_response(location, base, media, created)
            raise OcciError(
                405,
                f"{request.method} on /{name}/ is not supported; act on one "
                "resource: POST /{kind}/{id}?action=...",
            )

        return await self.run(request, work)

    async def instance(self, request: Request, *, links: bool = False) -> Response:
        ident = str(request.path_params["ident"])

        def work(call: ops.Call, body: wire.Body, media: str) -> Response:
            name = self._name(request, links=links)
            if request.method == "GET":
                return wire.entity_response(ops.get_one(call, name, ident), media, call.registry)
            if request.method == "DELETE":
                ops.delete(call, name, ident)
                return Response("OK\n", media_type="text/plain")
            if request.method == "POST" and "action" in request.query_params:
                action, attributes = wire.parse_action(body, call.registry)
                ops.act(call, name, ident, request.query_params["action"], action, attributes)
                return Response("OK\n", media_type="text/plain")
            if request.method in ("POST", "PUT") and not links:
                change = ops.update if request.method == "POST" else ops.replace
                change(call, name, ident, wire.parse_update(body))
                return wire.entity_response(ops.get_one(call, name, ident), media, call.registry)
            raise OcciError(
                405,
                f"{request.method} on /{name}/{ident} is not supported: create with POST on "
                f"/{name}/, change attributes with POST (or PUT) on /{name}/{ident}",
            )

        return await self.run(request, work)

    async def mixin_collection(self, request: Request) -> Response:
        location = f"/{request.path_params['collection']}/{request.path_params['term']}/"
        base = self.base(request)

        def work(call: ops.Call, body: wire.Body, media: str) -> Response:
            if mixins.is_user_location(call, location):
                return self._user_mixin(request, call, body, media, location)
            if request.method != "GET" and call.registry.by_location(location) is not None:
                raise OcciError(405, f"{request.method} on {location} is not supported; "
                                "tag resources with your own mixins (POST /-/ defines one)")
            found = wire.page(ops.list_mixin(call, location), request)
            return wire.collection_response(found, media, base)

        return await self.run(request, work)

    def _user_mixin(self, request: Request, call: ops.Call, body: wire.Body, media: str,
                    location: str) -> Response:
        if request.method in TAG_MODES:
            mode = TAG_MODES[request.method]
            mixins.tag(call, location, _text_lines(body), self.prefix, mode)
            call = ops.Call(call.backend, call.principal)  # read the members as they are now
        found = wire.page(mixins.members(call, location), request)
        return wire.collection_response(found, media, self.base(request))


def _text_lines(body: wire.Body) -> list[textfmt.Header]:
    if body.json is not None:
        raise OcciError(415, "user-defined mixins take the text/plain or text/occi rendering")
    return list(body.lines)


def _split(location: str) -> tuple[str, str]:
    parts = location.strip("/").split("/")
    return ("/".join(parts[:-1]).removeprefix("link/"), parts[-1])


def create_router(
    backend: OcciBackend, *, prefix: str = "/occi", root_well_known: bool = False
) -> APIRouter:
    """The OCCI routes under `prefix`; include the router in the app without another prefix.

    `root_well_known` also answers the query interface at the server's own
    `/.well-known/org/ogf/occi/-/` (OCCI HTTP Protocol 1.2, 3.4.1), for clients that look there.
    """
    api = _Occi(backend, prefix)
    router = APIRouter(prefix=prefix.rstrip("/"), tags=["occi"])

    def add(path: str, endpoint: Callable[..., Awaitable[Response]], *methods: str) -> None:
        router.add_api_route(path, endpoint, methods=list(methods), include_in_schema=False)

    async def link_collection(request: Request) -> Response:
        return await api.collection(request, links=True)

    async def link_instance(request: Request) -> Response:
        return await api.instance(request, links=True)

    async def kind_collection(request: Request) -> Response:
        return await api.collection(request)

    async def kind_instance(request: Request) -> Response:
        return await api.instance(request)

    add("/-/", api.query, "GET", "POST", "DELETE")
    add("/.well-known/org/ogf/occi/-/", api.query, "GET", "POST", "DELETE")
    add("/link/{collection}/", link_collection, "GET", "POST", "DELETE")
    add("/link/{collection}/{ident}", link_instance, "GET", "POST", "PUT", "DELETE")
    add("/{collection}/", kind_collection, "GET", "POST", "PUT", "DELETE")
    add("/{collection}/{term}/", api.mixin_collection, "GET", "POST", "PUT", "DELETE")
    add("/{collection}/{ident}", kind_instance, "GET", "POST", "PUT", "DELETE")
    if not root_well_known:
        return router
    outer = APIRouter(tags=["occi"])
    outer.include_router(router)
    outer.add_api_route(
        "/.well-known/org/ogf/occi/-/", api.query, methods=["GET", "POST", "DELETE"],
        include_in_schema=False,
    )
    return outer
