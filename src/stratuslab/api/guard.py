"""The HTTP guard in front of every API of the server (outermost ASGI middleware).

Three checks that must happen before any adapter parses, authenticates or routes a request:

- **Body limit.**  A body larger than the limit is refused with 413 before the application reads
  it: at once when `Content-Length` announces it, else as soon as the streamed (chunked) bytes
  pass the limit; the application then sees the client as gone and nothing it sends is
  forwarded.  One limit for every API (`max_body`), with explicit larger or smaller limits for
  path prefixes that legitimately take other sizes (`body_limits`: (prefix, bytes, the setting
  that sets it), longest prefix wins).
- **Cross-site requests.**  A state-changing request (anything but GET, HEAD, OPTIONS) that a
  browser sends on behalf of another site is refused with 403: `Sec-Fetch-Site: cross-site` or
  `same-site`, or an `Origin` that is neither this server's own nor a trusted one.  Browsers that
  send neither header are stopped by the content-type rule: the "simple" content types a page
  may post cross-site without a CORS preflight (form-encoded, multipart, text/plain) are refused
  with 415, except on `form_paths` (HTML forms, the pdisk and OCCI wire formats, which have
  other defences or no choice) or when the request carries `X-Requested-With`, a header no page
  can add cross-site without the server's consent.  XML-RPC clients send `text/xml`, REST
  clients JSON or nothing: both pass.
- **One `Server` header** on every response: the application's own (OCCI's `... OCCI/1.2`) when
  it sets one, else `server`.  The ASGI server must not add its own (uvicorn: server_header=False).

Imports only the standard library: it knows nothing of the adapters behind it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SIMPLE_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n} bytes"


class HttpGuard:
    """ASGI middleware: `app.add_middleware(HttpGuard, max_body=..., ...)` (add it last)."""

    def __init__(self, app: App, *, max_body: int,
                 body_limits: Sequence[tuple[str, int, str]] = (),
                 trusted_origins: Sequence[str] = (), form_paths: Sequence[str] = (),
                 server: str = "StratusLab") -> None:
        self.app = app
        self.max_body = max_body
        self.body_limits = sorted(body_limits, key=lambda item: len(item[0]), reverse=True)
        self.trusted = frozenset(o.rstrip("/").lower() for o in trusted_origins)
        self.form_paths = tuple(form_paths)
        self.server = server.encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        send = self._one_server_header(send)
        refusal = self._cross_site(scope)
        if refusal is not None:
            await _refuse(send, *refusal)
            return
        path = str(scope.get("path", ""))
        limit, key = self.limit_for(path)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _refuse(send, *_too_large(f"the request body of {declared} bytes", limit,
                                            path, key))
            return
        await _Limited(self.app, limit, key).run(scope, receive, send)

    def limit_for(self, path: str) -> tuple[int, str]:
        """The body limit of `path` and the setting that sets it."""
        for prefix, limit, key in self.body_limits:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit, key
        return self.max_body, "server.max_body"

    # -- cross-site ---------------------------------------------------------------------
    def _own_origin(self, scope: Scope, origin: str) -> bool:
        host = (_header(scope, b"host") or "").lower()
        parts = urlsplit(origin)
        if origin.rstrip("/") in self.trusted:
            return True
        return bool(host) and parts.netloc == host and parts.scheme in ("http", "https")

    def _cross_site(self, scope: Scope) -> tuple[int, str, str, str] | None:
        method = str(scope.get("method", "GET")).upper()
        if method in SAFE_METHODS:
            return None
        path = str(scope.get("path", ""))
        origin = (_header(scope, b"origin") or "").strip().lower()
        fetch_site = (_header(scope, b"sec-fetch-site") or "").strip().lower()
        hint = ("call the API from a program, or from a page of this server; an administrator "
                "may trust another site's origin (setting server.trusted_origins)")
        if fetch_site in ("cross-site", "same-site") and not (origin and origin in self.trusted):
            return (403, "forbidden", f"{method} {path} was sent by a browser on behalf of "
                    f"another site ({origin or 'origin unknown'}); refused", hint)
        if origin and not self._own_origin(scope, origin):
            return (403, "forbidden",
                    f"{method} {path} comes from the page of another site ({origin}); refused",
                    hint)
        media = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if media in SIMPLE_TYPES and not path.startswith(self.form_paths or ("\0",)) \
                and _header(scope, b"x-requested-with") is None:
            return (415, "invalid", f"{method} {path} with content type {media} is refused: "
                    "any web page could send it",
                    "send the body as text/xml (XML-RPC) or application/json (REST), "
                    "or add the header X-Requested-With")
        return None

    # -- Server header ------------------------------------------------------------------
    def _one_server_header(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message.get("type") == "http.response.start":
                headers = list(message.get("headers", ()))
                own = [v for k, v in headers if bytes(k).lower() == b"server"]
                headers = [(k, v) for k, v in headers if bytes(k).lower() != b"server"]
                headers.append((b"server", own[0] if own else self.server))
                message = {**message, "headers": headers}
            await send(message)
        return sending


class _Limited:
    """One request whose body is counted as the application reads it."""

    def __init__(self, app: App, limit: int, key: str) -> None:
        self.app, self.limit, self.key = app, limit, key
        self.seen = 0
        self.started = False  # the application began its response
        self.refused = False  # we answered 413; the application's sends are dropped

    async def run(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))

        async def receiving() -> Message:
            if self.refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message.get("type") == "http.request":
                self.seen += len(message.get("body", b""))
                if self.seen > self.limit:
                    self.refused = True
                    if not self.started:
                        await _refuse(send, *_too_large("the request body", self.limit, path,
                                                        self.key))
                    return {"type": "http.disconnect"}
            return message

        async def sending(message: Message) -> None:
            if self.refused:
                return
            if message.get("type") == "http.response.start":
                self.started = True
            await send(message)

        try:
            await self.app(scope, receiving, sending)
        except Exception:
            if not self.refused:  # after a refusal the application only failed to read
                raise


def _too_large(what: str, limit: int, path: str, key: str) -> tuple[int, str, str, str]:
    return (413, "too_large", f"{what} is larger than the limit of {_size(limit)} for {path} "
            "on this server", f"send a smaller request; an administrator sets the limit "
            f"(setting {key})")


async def _refuse(send: Send, status: int, kind: str, message: str, hint: str) -> None:
    body = json.dumps({"error": {"kind": kind, "message": message, "hint": hint}}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    if status == 413:  # do not wait for (or read) the rest of a huge body
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
