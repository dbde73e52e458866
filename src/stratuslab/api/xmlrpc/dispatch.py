"""The XML-RPC dispatcher: method table, argument checking, authentication, error mapping.

`Dispatcher.handle(body, base_credentials)` takes a raw ``<methodCall>`` and returns a raw
``<methodResponse>``.  Wrong argument types or counts answer ``[False, msg, 0x1000]`` before any
backend call (so nothing changes); CloudErrors become ``[False, msg, code]`` through
`codes.error_response`; surplus arguments are ignored (3.x clients send some).  Unknown methods
are an XML-RPC fault, as OpenNebula's xmlrpc-c server answers; OpenNebula methods this cloud
does not implement (catalogue.KNOWN) answer ``[False, msg, 0x800]`` instead.  Imports only core and this
package (plus the standard library's xmlrpc.client for the wire).
"""

from __future__ import annotations

import logging
import re
import xmlrpc.client
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from stratuslab.api.xmlrpc.backend import XmlRpcBackend
from stratuslab.api.xmlrpc.catalogue import KNOWN, WHY_NOT
from stratuslab.api.xmlrpc.codes import OneError, error_response, fault, success
from stratuslab.api.xmlrpc.profiles import Profile
from stratuslab.core.auth import Credentials
from stratuslab.core.entities import Principal
from stratuslab.core.errors import AuthenticationFailed, CloudError, Unsupported

log = logging.getLogger(__name__)

_REQUIRED = object()
#: xmlrpc-c's "no such method" fault code
NO_SUCH_METHOD = -506
_TYPE_NAMES = {int: "integer", str: "string", bool: "boolean", list: "array", dict: "struct"}


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    kind: type
    default: Any = _REQUIRED


@dataclass(frozen=True, slots=True)
class Ctx:
    backend: XmlRpcBackend
    principal: Principal
    profile: Profile

    @property
    def version(self) -> str:
        return self.profile.version


Handler = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Method:
    handler: Handler
    params: tuple[Param, ...] = ()


class ArgumentError(Exception):
    pass


def _coerce(param: Param, value: Any, position: int) -> Any:
    kind = param.kind
    if kind is object:
        return value
    if kind is bool and isinstance(value, int):  # 0/1 from old clients; bool is an int too
        return bool(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind in (str, list, dict) and isinstance(value, kind):
        return value
    got = _TYPE_NAMES.get(type(value), type(value).__name__)
    raise ArgumentError(
        f"argument {position} ({param.name}) must be {_TYPE_NAMES.get(kind, kind.__name__)}, "
        f"got {got} {value!r}"
    )


def bind(method: Method, args: Sequence[Any]) -> list[Any]:
    out = []
    for index, param in enumerate(method.params):
        if index < len(args):
            out.append(_coerce(param, args[index], index + 2))  # the session is argument 1
        elif param.default is _REQUIRED:
            raise ArgumentError(f"missing argument {index + 2} ({param.name})")
        else:
            out.append(param.default)
    return out


def session_credentials(session: str, base: Credentials) -> Credentials:
    """`user:password` from the XML-RPC session string, unless HTTP already gave credentials."""
    if base.username is not None or base.cert_chain or base.token:
        return base
    user, sep, password = session.partition(":")
    return replace(base, username=user or None, password=password if sep else None)


#: what an API token looks like (secrets.token_urlsafe(32)); only such secrets are tried as one
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


def authenticate(backend: XmlRpcBackend, session: str, base: Credentials) -> Principal:
    """The session's user: ``user:password``, or ``user:token`` after one.user.login (a token
    of that same user; other secrets go to the password check as before)."""
    creds = session_credentials(session, base)
    secret = creds.password if creds is not base else None
    if secret and _TOKEN_SHAPE.fullmatch(secret):
        try:
            principal = backend.identity.authenticate(replace(base, token=secret))
        except AuthenticationFailed:
            principal = None
        if principal is not None and principal.user == creds.username:
            return principal
    return backend.identity.authenticate(creds)


class Dispatcher:
    def __init__(self, backend: XmlRpcBackend, methods: Mapping[str, Method], *, version: str):
        self.backend = backend
        self.methods = methods
        self.version = version

    def handle(self, body: bytes, base: Credentials) -> bytes:
        try:
            params, name = xmlrpc.client.loads(body, use_builtin_types=True)
        except Exception as exc:  # expat and xmlrpc raise many kinds for malformed input
            return self._fault(-32700, f"parse error: not a valid XML-RPC methodCall ({exc})")
        if not name:
            return self._fault(-32600, "invalid request: no methodName")
        method = self.methods.get(name)
        if method is None and name in KNOWN:  # an OpenNebula method this cloud does not do
            why = f": {WHY_NOT[name]}" if name in WHY_NOT else ""
            answer = fault(f"[{name}] not supported by this cloud{why}", OneError.ACTION)
            return xmlrpc.client.dumps((answer,), methodresponse=True).encode()
        if method is None:
            return self._fault(NO_SUCH_METHOD, f"Requested method '{name}' not registered")
        result = self.call(name, method, list(params), base)
        return xmlrpc.client.dumps((result,), methodresponse=True, allow_none=False).encode()

    def call(self, name: str, method: Method, params: list[Any], base: Credentials) -> list[Any]:
        if not params or not isinstance(params[0], str):
            return fault(
                f"[{name}] argument 1 (session) must be the string 'user:password'",
                OneError.XML_RPC_API,
            )
        try:
            args = bind(method, params[1:])
        except ArgumentError as exc:
            return fault(f"[{name}] {exc}", OneError.XML_RPC_API)
        try:
            principal = authenticate(self.backend, params[0], base)
            ctx = Ctx(self.backend, principal, Profile(self.version))
            return success(method.handler(ctx, *args))
        except CloudError as exc:
            return error_response(name, exc)
        except NotImplementedError as exc:  # a backend without its own Unsupported
            return error_response(name, Unsupported(str(exc) or name))
        except Exception:
            log.exception("XML-RPC %s failed", name)
            return fault(
                f"[{name}] internal error; the server log has the details", OneError.INTERNAL
            )

    @staticmethod
    def _fault(code: int, message: str) -> bytes:
        return xmlrpc.client.dumps(xmlrpc.client.Fault(code, message), methodresponse=True).encode()
