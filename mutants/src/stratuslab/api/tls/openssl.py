"""The client's whole certificate chain from a stdlib TLS connection (Python 3.11).

Python's `ssl` before 3.13 gives only the peer's leaf (`getpeercert(True)`), and with
CERT_OPTIONAL/REQUIRED OpenSSL itself rejects proxies, expired and self-signed certificates
during the handshake, so the client would see a TLS alert instead of a 401 and the audit trail
would stay empty.  This module reaches the `SSL*`/`SSL_CTX*` behind Python's objects through
ctypes into the same libssl that `_ssl` uses, to

* install a certificate-verify callback that accepts any chain, so verification is done in
  Python by the authenticator chain (services/auth/x509) with proper errors and audit; and
* read the chain the client sent (`SSL_get_peer_cert_chain`).

The pointer offsets follow CPython 3.11's `_ssl.c` object layout; every read is cross-checked
(the `SSL*` must belong to our `SSL_CTX*`, and the leaf comes from `getpeercert(True)`),
and a mismatch disables certificate login with an error rather than trusting a wrong pointer.
Only the standard library.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import ssl
import sys
from dataclasses import dataclass

_PTR = ctypes.sizeof(ctypes.c_void_p)
# PyObject_HEAD is refcount + type; PySSLContext starts with SSL_CTX*, PySSLSocket with a
# socket weakref then SSL*.  (Debug builds add two pointers to the head; not supported.)
_CTX_OFFSET = 2 * _PTR
_SSL_OFFSET = 3 * _PTR
_VERIFY_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


class ChainUnavailable(RuntimeError):
    """The peer chain cannot be read safely on this Python/OpenSSL."""


def _accept_any(store_ctx: int | None, arg: int | None) -> int:
    return 1  # the chain is verified in Python after the handshake


_ACCEPT_ANY = _VERIFY_CB(_accept_any)  # kept alive for the life of the process


@dataclass(frozen=True)
class _Libs:
    ssl: ctypes.CDLL
    crypto: ctypes.CDLL


def _libs() -> _Libs:
    if hasattr(sys, "gettotalrefcount"):
        raise ChainUnavailable("a debug build of Python has a different object layout")
    if not ssl.OPENSSL_VERSION.startswith("OpenSSL 3"):
        raise ChainUnavailable(f"{ssl.OPENSSL_VERSION} is not OpenSSL 3")
    libssl = ctypes.CDLL(ctypes.util.find_library("ssl") or "libssl.so.3")
    libcrypto = ctypes.CDLL(ctypes.util.find_library("crypto") or "libcrypto.so.3")
    libssl.SSL_CTX_set_cert_verify_callback.argtypes = [ctypes.c_void_p, _VERIFY_CB,
                                                        ctypes.c_void_p]
    libssl.SSL_CTX_set_cert_verify_callback.restype = None
    libssl.SSL_get_SSL_CTX.argtypes = [ctypes.c_void_p]
    libssl.SSL_get_SSL_CTX.restype = ctypes.c_void_p
    libssl.SSL_get_peer_cert_chain.argtypes = [ctypes.c_void_p]
    libssl.SSL_get_peer_cert_chain.restype = ctypes.c_void_p
    libcrypto.OPENSSL_sk_num.argtypes = [ctypes.c_void_p]
    libcrypto.OPENSSL_sk_num.restype = ctypes.c_int
    libcrypto.OPENSSL_sk_value.argtypes = [ctypes.c_void_p, ctypes.c_int]
    libcrypto.OPENSSL_sk_value.restype = ctypes.c_void_p
    libcrypto.i2d_X509.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    libcrypto.i2d_X509.restype = ctypes.c_int
    return _Libs(libssl, libcrypto)


def _pointer_at(obj: object, offset: int) -> int:
    value = ctypes.c_void_p.from_address(id(obj) + offset).value
    if not value:
        raise ChainUnavailable("null pointer inside a Python ssl object")
    return int(value)


def _der(libs: _Libs, x509_ptr: int) -> bytes:
    length = libs.crypto.i2d_X509(x509_ptr, None)
    if length <= 0:
        raise ChainUnavailable("i2d_X509 failed")
    buf = ctypes.create_string_buffer(length)
    cursor = ctypes.c_char_p(ctypes.addressof(buf))
    libs.crypto.i2d_X509(x509_ptr, ctypes.byref(cursor))  # advances the cursor, fills buf
    return buf.raw[:length]


class PeerChainReader:
    """Makes `context` accept any client chain, and reads chains from its connections."""

    def __init__(self, context: ssl.SSLContext):
        self.libs = _libs()
        self.context = context
        self.ctx_ptr = _pointer_at(context, _CTX_OFFSET)
        self.libs.ssl.SSL_CTX_set_cert_verify_callback(self.ctx_ptr, _ACCEPT_ANY, None)

    def chain(self, ssl_object: ssl.SSLObject | ssl.SSLSocket) -> tuple[bytes, ...]:
        """DER certificates the client sent, leaf first; () when it sent none."""
        leaf = ssl_object.getpeercert(binary_form=True)
        if not leaf:
            return ()
        inner = getattr(ssl_object, "_sslobj", None)
        if inner is None:
            raise ChainUnavailable("the ssl object has no _sslobj")
        ssl_ptr = _pointer_at(inner, _SSL_OFFSET)
        if self.libs.ssl.SSL_get_SSL_CTX(ssl_ptr) != self.ctx_ptr:
            raise ChainUnavailable("SSL* does not belong to our SSL_CTX (layout changed?)")
        stack = self.libs.ssl.SSL_get_peer_cert_chain(ssl_ptr)
        extra: list[bytes] = []
        for index in range(self.libs.crypto.OPENSSL_sk_num(stack) if stack else 0):
            extra.append(_der(self.libs, self.libs.crypto.OPENSSL_sk_value(stack, index)))
        # server side: OpenSSL's stack omits the leaf; some versions include it, so dedupe
        if extra and extra[0] == leaf:
            extra = extra[1:]
        return (leaf, *extra)
