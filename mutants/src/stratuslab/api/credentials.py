"""The one reader of request credentials, for every API of the server.

`credentials_from_scope(scope)` turns an ASGI scope into core.auth.Credentials: HTTP Basic
(strict base64, UTF-8, `user:password`), a bearer token (`Authorization: Bearer`, or OCCI's
`X-Auth-Token`), and the TLS client-certificate chain that api/tls puts in the scope (DER;
PEM strings are converted).  REST, XML-RPC, OCCI, the classic `/pswd`/`/cert` middleware and
registration all call it, so they cannot disagree on what a request proves.

Paths decide which kinds count: under a certificate prefix (`/cert/...`, `/pdisk/cert...`)
only the client certificate is read, under a password prefix (`/pswd/...`, `/pdisk/pswd...`)
only the password, so a password sent to a certificate path is never tried.  A malformed
Authorization header is not silently ignored: it is carried as `Credentials.problem` and the
authenticator chain refuses it with that message.

Never import drivers, persistence or settings.
"""

from __future__ import annotations

import base64
import binascii
import ssl
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from stratuslab.core.auth import Credentials

Kind = Literal["password", "certificate"]
#: path prefixes that accept one kind of credentials only (classic StratusLab endpoints)
ONLY: Mapping[str, Kind] = {
    "/cert": "certificate", "/pdisk/cert": "certificate",
    "/pswd": "password", "/pdisk/pswd": "password",
}


def kind_for_path(path: str) -> Kind | None:
    """The only credential kind `path` accepts, None when any kind does."""
    for prefix, kind in ONLY.items():
        if path == prefix or path.startswith(prefix + "/"):
            return kind
    return None


def client_address(scope: Mapping[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _header(scope: Mapping[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def parse_basic(value: str) -> tuple[str, str]:
    """`user:password` from the base64 part of a Basic header; ValueError when malformed."""
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("not valid base64 of UTF-8 text") from exc
    user, sep, password = decoded.partition(":")  # passwords may contain ':'
    if not sep or not user:
        raise ValueError("not of the form user:password")
    return user, password


def cert_chain_of(scope: Mapping[str, Any]) -> tuple[bytes, ...]:
    """The client's certificate chain as DER, leaf first; () without TLS or certificate."""
    tls = (scope.get("extensions") or {}).get("tls") or {}
    if not isinstance(tls, Mapping):
        return ()
    der: Sequence[bytes] = tls.get("client_cert_chain_der") or ()
    if der:
        return tuple(bytes(item) for item in der)
    pem: Sequence[str] = tls.get("client_cert_chain") or ()
    try:
        return tuple(ssl.PEM_cert_to_DER_cert(item) for item in pem)
    except ValueError:
        return ()


def credentials_from_scope(scope: Mapping[str, Any], *, only: Kind | None = None,
                           ) -> Credentials:
    """What the request carries; `only` (default: from the path) keeps one kind."""
    source = client_address(scope)
    only = only or kind_for_path(str(scope.get("path", "")))
    chain = cert_chain_of(scope) if only != "password" else ()
    if only == "certificate":
        return Credentials(source, cert_chain=chain)
    header = _header(scope, b"authorization") or ""
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "basic":
        try:
            user, password = parse_basic(value)
        except ValueError as exc:
            return Credentials(source, cert_chain=chain,
                               problem=f"the Authorization header is not valid HTTP Basic: {exc}")
        return Credentials(source, username=user, password=password, cert_chain=chain)
    if only == "password":
        return Credentials(source)
    token = value.strip() if scheme == "bearer" else (_header(scope, b"x-auth-token") or "")
    if scheme == "bearer" and not token:
        return Credentials(source, cert_chain=chain, problem="the bearer token is empty")
    return Credentials(source, token=token.strip() or None, cert_chain=chain)
