"""StratusLab's classic authenticating endpoints in front of every API of the server.

`/pswd/<path>` answers only to a password (HTTP Basic) and `/cert/<path>` only to the TLS client
certificate, as the original one-proxy did: this ASGI middleware authenticates the request with
the allowed kind of credentials (401 with an audit line otherwise), removes the other kinds from
the request, and serves it as `/<path>` (or as is when an adapter routes the classic path
itself, e.g. XML-RPC's `/pswd/xmlrpc`).  The Principal is remembered for the request so the
adapter's own authentication does not run the chain a second time (`remembered`).
Other paths pass through untouched.  Never import drivers, persistence or settings.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from stratuslab.api.credentials import Kind, credentials_from_scope
from stratuslab.core.auth import Credentials
from stratuslab.core.entities import Principal
from stratuslab.core.errors import AuthenticationFailed, CloudError, ErrorKind

PREFIXES: dict[str, Kind] = {"/pswd": "password", "/cert": "certificate"}
Scope = MutableMapping[str, Any]


@dataclass(frozen=True, slots=True)
class Verified:
    kind: Kind
    credentials: Credentials
    principal: Principal


_VERIFIED: contextvars.ContextVar[Verified | None] = contextvars.ContextVar(
    "stratuslab_classic_verified", default=None)


def remembered(credentials: Credentials) -> Principal | None:
    """The Principal this request was already authenticated as at /pswd or /cert, when
    `credentials` are the ones verified there."""
    verified = _VERIFIED.get()
    if verified is None:
        return None
    seen = verified.credentials
    if verified.kind == "password":
        same = (credentials.username, credentials.password) == (seen.username, seen.password)
        return verified.principal if same and credentials.token is None else None
    same = credentials.username is None and credentials.token is None \
        and len(credentials.cert_chain) == len(seen.cert_chain) > 0
    return verified.principal if same else None


def _restrict(scope: Scope, kind: str) -> Scope:
    """A copy of `scope` carrying only the credentials of `kind`."""
    scope = dict(scope)
    if kind == "password":
        extensions = dict(scope.get("extensions") or {})
        extensions.pop("tls", None)
        scope["extensions"] = extensions
    else:
        scope["headers"] = [(k, v) for k, v in scope.get("headers", ())
                            if k.lower() != b"authorization"]
    return scope


class ClassicEndpoints:
    """ASGI middleware: `app.add_middleware(ClassicEndpoints, authenticate=chain)`."""

    def __init__(self, app: Callable[..., Any],
                 authenticate: Callable[[Credentials], Principal]):
        self.app, self.authenticate = app, authenticate
        self._native: frozenset[str] | None = None

    def native_paths(self, scope: Scope) -> frozenset[str]:
        """Classic paths an adapter routes itself (kept, not rewritten)."""
        if self._native is None:
            routes = getattr(scope.get("app"), "routes", ())
            self._native = frozenset(
                p for p in (getattr(r, "path", "") for r in routes)
                if p.startswith(tuple(f"{prefix}/" for prefix in PREFIXES)))
        return self._native

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        prefix = "/" + path.split("/", 2)[1] if scope.get("type") == "http" and \
            path.count("/") >= 2 else ""
        if prefix not in PREFIXES:
            await self.app(scope, receive, send)
            return
        kind = PREFIXES[prefix]
        credentials = credentials_from_scope(scope, only=kind)
        try:  # the chain decides even when nothing was sent, so the audit trail has it
            principal = await anyio.to_thread.run_sync(self.authenticate, credentials)
        except CloudError as exc:
            failure = exc
            if not (credentials.username or credentials.cert_chain):
                failure = _nothing_sent(prefix, kind)
            await _error(send, failure, prefix)
            return
        inner = _restrict(scope, kind)
        if path not in self.native_paths(scope):
            inner["path"] = path[len(prefix):]
            raw = scope.get("raw_path")
            if raw:
                inner["raw_path"] = raw[len(prefix):]
        token = _VERIFIED.set(Verified(kind, credentials, principal))
        try:
            await self.app(inner, receive, send)
        finally:
            _VERIFIED.reset(token)


def _nothing_sent(prefix: str, kind: str) -> AuthenticationFailed:
    if kind == "password":
        return AuthenticationFailed(f"{prefix}/ needs a user name and password",
                                    hint="send them with HTTP Basic authentication")
    return AuthenticationFailed(f"{prefix}/ needs a client certificate",
                                hint="connect over HTTPS with your certificate or proxy")


async def _error(send: Any, exc: CloudError, prefix: str) -> None:
    status = 401 if exc.kind is ErrorKind.AUTHENTICATION else 503 \
        if exc.kind is ErrorKind.UNAVAILABLE else 403
    body = json.dumps({"error": {"kind": exc.kind, "message": exc.message,
                                 "hint": exc.hint}}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    if status == 401 and prefix == "/pswd":
        headers.append((b"www-authenticate", b'Basic realm="stratuslab"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
