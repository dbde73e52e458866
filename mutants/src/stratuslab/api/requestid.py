"""ASGI middleware around every API: binds a request id (the client's X-Request-ID when it is
short and plain, else a new one) for the request's whole handling, returns it in X-Request-ID
and logs one line per request under it.  Imports only core."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from stratuslab.core.context import acceptable_request_id, bound_request_id

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("stratuslab.api.access")
HEADER = b"x-request-id"


class RequestIdMiddleware:
    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(HEADER, b"").decode("latin-1")
        request_id = acceptable_request_id(given)
        status = 500
        started = time.monotonic()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (HEADER, request_id.encode())]
            await send(message)

        with bound_request_id(request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                log.info("%s %s -> %d (%.0f ms)", scope.get("method"), scope.get("path"), status,
                         (time.monotonic() - started) * 1000)
