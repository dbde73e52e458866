"""TLS terminated in our own asyncio protocol (pyOpenSSL over memory BIOs), so the client's
whole certificate chain is read through a supported API and any chain is accepted at the TLS
layer (the authenticator chain in services/auth verifies it, answering 401 with an audit line).

`TlsTerminator(context, inner)` sits between the socket transport and an inner protocol
(uvicorn's h11 protocol): ciphertext in and out on the socket, plaintext to the inner protocol
through `PlainTransport`, whose `get_extra_info("tls")` gives the handshake's facts (client
chain as DER, leaf first; version; cipher).  A handshake that does not finish within
`handshake_timeout` seconds is aborted.  Only the standard library and pyOpenSSL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from OpenSSL import SSL, crypto

log = logging.getLogger("stratuslab.api.tls")
CHUNK = 65536


@dataclass(frozen=True)
class TlsFacts:
    client_chain: tuple[bytes, ...]  # DER, leaf first; () when the client sent none
    version: str | None
    cipher: str | None


def _accept_any(conn: SSL.Connection, cert: crypto.X509, errno: int, depth: int,
                ok: int) -> bool:
    return True  # verified in Python after the handshake, with errors the user can read


def server_context(cert: str, key: str, *, password: str | None = None) -> SSL.Context:
    """TLS 1.2+ server context asking (not requiring) a client certificate, accepting any."""
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    if password is not None:
        context.set_passwd_cb(lambda *_: password.encode())
    context.use_certificate_chain_file(cert)
    context.use_privatekey_file(key)
    context.check_privatekey()
    context.set_verify(SSL.VERIFY_PEER, _accept_any)
    context.set_session_id(b"stratuslab")
    return context


class PlainTransport(asyncio.Transport):
    """What the inner protocol writes to: plaintext, encrypted by the terminator."""

    def __init__(self, outer: TlsTerminator):
        super().__init__()
        self.outer = outer

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.outer.send_plain(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def can_write_eof(self) -> bool:
        return False

    def close(self) -> None:
        self.outer.close()

    def abort(self) -> None:
        self.outer.abort()

    def is_closing(self) -> bool:
        return self.outer.closing

    def pause_reading(self) -> None:
        self.outer.transport.pause_reading()  # type: ignore[union-attr]

    def resume_reading(self) -> None:
        self.outer.transport.resume_reading()  # type: ignore[union-attr]

    def is_reading(self) -> bool:
        return bool(self.outer.transport.is_reading())  # type: ignore[union-attr]

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.outer.transport.set_write_buffer_limits(high, low)  # type: ignore[union-attr]

    def get_write_buffer_size(self) -> int:
        return int(self.outer.transport.get_write_buffer_size())  # type: ignore[union-attr]

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "tls":
            return self.outer.facts
        if name == "sslcontext":  # uvicorn: this connection is https
            return self.outer.context
        if name in ("ssl_object", "peercert", "cipher", "compression"):
            return default
        return self.outer.transport.get_extra_info(name, default)  # type: ignore[union-attr]


class TlsTerminator(asyncio.Protocol):
    def __init__(self, context: SSL.Context, inner: asyncio.Protocol, *,
                 handshake_timeout: float = 30.0):
        self.context, self.inner = context, inner
        self.handshake_timeout = handshake_timeout
        self.transport: asyncio.Transport | None = None
        self.conn = SSL.Connection(context, None)  # memory BIOs
        self.conn.set_accept_state()
        self.facts: TlsFacts | None = None
        self.closing = False
        self._timer: asyncio.TimerHandle | None = None

    # socket side -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.handshake_timeout, self._handshake_expired)

    def data_received(self, data: bytes) -> None:
        self.conn.bio_write(data)
        if self.facts is None and not self._handshake():
            return
        self._read_plain()

    def eof_received(self) -> bool | None:
        if self.facts is not None:
            self.inner.eof_received()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        if self._timer is not None:
            self._timer.cancel()
        if self.facts is not None:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.facts is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.facts is not None:
            self.inner.resume_writing()

    # TLS -----------------------------------------------------------------------------------
    def _handshake(self) -> bool:
        try:
            self.conn.do_handshake()
        except SSL.WantReadError:
            self._flush()
            return False
        except SSL.Error as exc:
            self._flush()
            log.info("TLS handshake with %s failed: %s", self._peer(), exc)
            self.abort()
            return False
        self._flush()
        if self._timer is not None:
            self._timer.cancel()
        self.facts = TlsFacts(self._client_chain(), self.conn.get_protocol_version_name(),
                              self.conn.get_cipher_name())
        self.inner.connection_made(PlainTransport(self))
        return True

    def _client_chain(self) -> tuple[bytes, ...]:
        leaf = self.conn.get_peer_certificate(as_cryptography=True)
        if leaf is None:
            return ()
        first = leaf.public_bytes(Encoding.DER)
        rest = [c.public_bytes(Encoding.DER)
                for c in self.conn.get_peer_cert_chain(as_cryptography=True) or []]
        if rest and rest[0] == first:  # the server side's stack may or may not hold the leaf
            rest = rest[1:]
        return (first, *rest)

    def _read_plain(self) -> None:
        while not self.closing:
            try:
                chunk = self.conn.recv(CHUNK)
            except SSL.WantReadError:
                break
            except SSL.ZeroReturnError:  # the client's close_notify
                self.inner.eof_received()
                break
            except SSL.Error as exc:
                log.info("TLS error from %s: %s", self._peer(), exc)
                self.abort()
                return
            self.inner.data_received(chunk)
        self._flush()

    def send_plain(self, data: bytes) -> None:
        if self.closing:
            return
        try:
            self.conn.sendall(data)
        except SSL.Error as exc:
            log.info("TLS error to %s: %s", self._peer(), exc)
            self.abort()
            return
        self._flush()

    def _flush(self) -> None:
        while self.transport is not None:
            try:
                data = self.conn.bio_read(CHUNK)
            except SSL.WantReadError:
                return
            if not data:
                return
            self.transport.write(data)

    def close(self) -> None:
        if self.closing:
            return
        self.closing = True
        try:
            self.conn.shutdown()  # close_notify
        except SSL.Error:
            pass
        self._flush()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

    def _handshake_expired(self) -> None:
        if self.facts is None:
            log.info("TLS handshake with %s did not finish in %ss", self._peer(),
                     self.handshake_timeout)
            self.abort()

    def _peer(self) -> str:
        peer = self.transport.get_extra_info("peername") if self.transport else None
        return f"{peer[0]}:{peer[1]}" if peer else "unknown"


InnerFactory = Callable[[], asyncio.Protocol]
