"""TLS with client certificates for uvicorn: the client's whole chain reaches the ASGI app.

Hand `uvicorn_tls_options(cert, key)` to `uvicorn.Config(...)`.  The server then asks every
client for a certificate (optional, so password clients on the same port still work), accepts
whatever chain is sent, and puts it into the ASGI scope as the ASGI TLS extension:
`scope["extensions"]["tls"]["client_cert_chain"]` (PEM strings, leaf first), plus
`client_cert_chain_der` (DER bytes, what core.auth.Credentials.cert_chain takes).  Verification
is NOT done here: the authenticator chain (services/auth) verifies chains, proxies and VOMS
ACs and answers 401 with an audit line.  Never import drivers, persistence or settings.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, MutableMapping
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol

from stratuslab.api.tls.openssl import ChainUnavailable, PeerChainReader

log = logging.getLogger("stratuslab.api.tls")
ASGIApp = Callable[..., Any]


class ChainSSLContext(ssl.SSLContext):
    """A server context that requests client certificates and can read their chains."""

    chain_reader: PeerChainReader | None = None


def server_context(cert: str, key: str, *, password: str | None = None) -> ChainSSLContext:
    context = ChainSSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key, password)
    context.verify_mode = ssl.CERT_OPTIONAL
    try:
        context.chain_reader = PeerChainReader(context)
    except (ChainUnavailable, OSError, AttributeError) as exc:
        # without the permissive callback OpenSSL would refuse proxies in the handshake;
        # stop asking for certificates rather than half-work
        context.verify_mode = ssl.CERT_NONE
        log.error("client-certificate login is disabled: %s", exc)
    return context


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


def connection_tls_info(ssl_object: Any, reader: PeerChainReader | None) -> dict[str, Any]:
    chain: tuple[bytes, ...] = ()
    error = None
    if ssl_object is not None and reader is not None:
        try:
            chain = reader.chain(ssl_object)
        except ChainUnavailable as exc:
            error = str(exc)
            log.error("cannot read the client certificate chain: %s", exc)
    cipher = ssl_object.cipher() if ssl_object is not None else None
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der) for der in chain],
        "client_cert_chain_der": chain,
        "client_cert_name": None,
        "client_cert_error": error,
        "tls_version": ssl_object.version() if ssl_object is not None else None,
        "cipher_suite": cipher[0] if cipher else None,
    }


class ClientCertH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus the client's certificate chain in the scope."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            reader = getattr(self.config.ssl, "chain_reader", None)
            self.app = _WithTLS(self.app, connection_tls_info(ssl_object, reader))


def uvicorn_tls_options(cert: str, key: str, *, password: str | None = None) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.Config` that serve TLS with client-chain capture."""

    def factory(config: Config, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        return server_context(cert, key, password=password)

    return {"http": ClientCertH11Protocol, "ssl_context_factory": factory}


def client_cert_chain(scope: MutableMapping[str, Any]) -> tuple[bytes, ...]:
    """The DER chain for core.auth.Credentials.cert_chain; () without TLS or certificate."""
    tls = (scope.get("extensions") or {}).get("tls") or {}
    return tuple(tls.get("client_cert_chain_der") or ())
