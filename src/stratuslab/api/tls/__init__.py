"""TLS with client certificates for uvicorn: the client's whole chain reaches the ASGI app.

Hand `uvicorn_tls_options(cert, key)` to `uvicorn.Config(...)` (and no `ssl` options): each
connection is then a `TlsTerminator` (terminator.py, pyOpenSSL) around uvicorn's h11 protocol.
The server asks every client for a certificate (optional, so password clients on the same port
still work), accepts whatever chain is sent, and puts it into the ASGI scope as the ASGI TLS
extension: `scope["extensions"]["tls"]["client_cert_chain"]` (PEM strings, leaf first), plus
`client_cert_chain_der` (DER bytes, what core.auth.Credentials.cert_chain takes; read it with
api/credentials).  Verification is NOT done here: the authenticator chain (services/auth)
verifies chains, proxies and VOMS ACs and answers 401 with an audit line.  No ctypes, no
private attributes of the ssl module.  Never import drivers, persistence or settings.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, MutableMapping
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from stratuslab.api.tls.terminator import TlsFacts, TlsTerminator, server_context

log = logging.getLogger("stratuslab.api.tls")
ASGIApp = Callable[..., Any]

__all__ = ["client_cert_chain", "connection_tls_info", "server_context", "uvicorn_tls_options"]


class _WithTLS:
    """Adds this connection's TLS facts to every scope it serves."""

    def __init__(self, app: ASGIApp, tls: dict[str, Any]):
        self.app, self.tls = app, tls

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") in ("http", "websocket"):
            extensions = dict(scope.get("extensions") or {})
            extensions["tls"] = self.tls
            scope["extensions"] = extensions
        return await self.app(scope, receive, send)


def connection_tls_info(facts: TlsFacts | None) -> dict[str, Any]:
    chain = facts.client_chain if facts else ()
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der) for der in chain],
        "client_cert_chain_der": chain,
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": facts.version if facts else None,
        "cipher_suite": facts.cipher if facts else None,
    }


class ClientCertH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus the client's certificate chain in the scope."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        facts = transport.get_extra_info("tls")
        if facts is not None:
            self.app = _WithTLS(self.app, connection_tls_info(facts))


def uvicorn_tls_options(cert: str, key: str, *, password: str | None = None) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.Config` that serve TLS with client-chain capture."""
    context = server_context(cert, key, password=password)

    def protocol(config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: Any = None) -> TlsTerminator:
        inner = ClientCertH11Protocol(config, server_state, app_state, _loop)
        return TlsTerminator(context, inner)

    return {"http": protocol}


def client_cert_chain(scope: MutableMapping[str, Any]) -> tuple[bytes, ...]:
    """The DER chain for core.auth.Credentials.cert_chain; () without TLS or certificate."""
    tls = (scope.get("extensions") or {}).get("tls") or {}
    return tuple(tls.get("client_cert_chain_der") or ())
