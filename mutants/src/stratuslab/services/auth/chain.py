"""The authenticator chain in front of every API, and the audit trail of its decisions.

Links are asked in order; the first Principal wins; a link that raises AuthenticationFailed
ends the walk (the credentials were of its kind and wrong).  Every success and failure is
reported to the audit sink with method, identity and source address.  Imports `cryptography`
(to name certificate holders in the audit line) and core only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stratuslab.core.auth import Authenticator, Credentials
from stratuslab.core.entities import Principal
from stratuslab.core.errors import AuthenticationFailed, CloudError, Unavailable
from stratuslab.services.auth.common import BadPassword
from stratuslab.services.auth.throttle import LoginThrottle
from stratuslab.services.auth.x509.dn import slash_dn
from stratuslab.services.auth.x509.proxy import proxy_info
from stratuslab.services.auth.x509.trust import load_client_cert

AUDIT_LOGGER = "stratuslab.audit"


@dataclass(frozen=True, slots=True)
class AuthEvent:
    success: bool
    method: str  # the link that decided, or "none"
    identity: str  # user name or certificate subject as presented
    source: str
    user: str | None = None  # the cloud user it resolved to
    reason: str = ""

    def line(self) -> str:
        outcome = "success" if self.success else "failure"
        text = (f"auth {outcome} method={self.method} identity={self.identity!r} "
                f"source={self.source}")
        if self.user:
            text += f" user={self.user}"
        if self.reason:
            text += f" reason={self.reason!r}"
        return text


AuditSink = Callable[[AuthEvent], None]


def logging_audit(logger: logging.Logger | None = None) -> AuditSink:
    """An audit sink writing one line per event to `stratuslab.audit` (or `logger`)."""
    target = logger or logging.getLogger(AUDIT_LOGGER)

    def sink(event: AuthEvent) -> None:
        target.log(logging.INFO if event.success else logging.WARNING, event.line())

    return sink


def presented_identity(credentials: Credentials) -> str:
    if credentials.username:
        return credentials.username
    if credentials.cert_chain:
        try:  # name the end-entity, not the proxy: that is who the audit trail is about
            certs = [load_client_cert(item) for item in credentials.cert_chain]
            eec = next((c for c in certs if proxy_info(c) is None), certs[0])
            return slash_dn(eec.subject)
        except (ValueError, CloudError):
            return "<unreadable certificate>"
    if credentials.token:
        return "<token>"
    return "<anonymous>"


#: the one answer to a wrong password and to an unknown user name, on every API
LOGIN_FAILED = "authentication failed: unknown user name or wrong password"
LOGIN_HINT = "check the user name and password given to the client"


class AuthenticatorChain:
    """Tries `links` in order; returns the Principal or raises AuthenticationFailed.

    Password attempts pass the shared `throttle` (backoff per user and per address) and end
    with one message whether the user is unknown or the password wrong; when no link checked
    a real hash, `dummy_check` does comparable work on the password.
    """

    def __init__(self, links: Sequence[Authenticator], audit: AuditSink | None = None, *,
                 throttle: LoginThrottle | None = None,
                 dummy_check: Callable[[str], None] | None = None):
        self.links = tuple(links)
        self.audit = audit or logging_audit()
        self.throttle, self.dummy_check = throttle, dummy_check

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(link.method for link in self.links)

    def authenticate(self, credentials: Credentials) -> Principal:
        identity = presented_identity(credentials)
        if credentials.problem:
            self._record(False, "none", identity, credentials, reason=credentials.problem)
            raise AuthenticationFailed(credentials.problem,
                                       hint="send HTTP Basic as base64 of user:password")
        if credentials.username is None or credentials.password is None:
            return self._walk(credentials, identity)
        user, source = credentials.username, credentials.source
        if self.throttle is not None:
            try:
                self.throttle.check(user, source)
            except AuthenticationFailed as exc:
                self._record(False, "throttle", identity, credentials, reason=exc.message)
                raise
        try:
            principal = self._walk(credentials, identity)
        except BadPassword:
            self._failed_login(credentials)
            raise AuthenticationFailed(LOGIN_FAILED, hint=LOGIN_HINT) from None
        if self.throttle is not None:
            self.throttle.succeeded(user, source)
        return principal

    def _failed_login(self, credentials: Credentials) -> None:
        if self.throttle is not None:
            self.throttle.failed(credentials.username, credentials.source)

    def _walk(self, credentials: Credentials, identity: str) -> Principal:
        unavailable: Unavailable | None = None
        for link in self.links:
            try:
                principal = link.authenticate(credentials)
            except AuthenticationFailed as exc:
                self._record(False, link.method, identity, credentials, reason=exc.message)
                raise
            except Unavailable as exc:  # e.g. LDAP down: let the other links try
                self._record(False, link.method, identity, credentials, reason=exc.message)
                unavailable = unavailable or exc
                continue
            except CloudError as exc:
                self._record(False, link.method, identity, credentials, reason=exc.message)
                raise AuthenticationFailed(exc.message, hint=exc.hint) from exc
            if principal is not None:
                self._record(True, principal.method or link.method, identity, credentials,
                             user=principal.user)
                return principal
        if unavailable is not None:
            raise unavailable
        reason = "no credentials" if identity == "<anonymous>" else "no method accepted them"
        self._record(False, "none", identity, credentials, reason=reason)
        if credentials.username is not None and credentials.password is not None:
            if self.dummy_check is not None:  # an unknown name costs what a wrong password does
                self.dummy_check(credentials.password)
            raise BadPassword(LOGIN_FAILED, hint=LOGIN_HINT)
        raise AuthenticationFailed(
            f"authentication failed for {identity}: {reason}",
            hint=f"this cloud accepts: {', '.join(self.methods) or 'nothing configured'}",
        )

    def _record(self, success: bool, method: str, identity: str, credentials: Credentials, *,
                user: str | None = None, reason: str = "") -> None:
        self.audit(AuthEvent(success, method, identity, credentials.source, user, reason))
