"""Authentication and authorization: the authenticator chain, its links, the policy, and
registration.  Services import core only; drivers (LDAP, SMTP) arrive by constructor."""

from stratuslab.services.auth.chain import AuditSink, AuthenticatorChain, AuthEvent, logging_audit
from stratuslab.services.auth.common import UserResolver
from stratuslab.services.auth.passwordfile import PasswordFileAuthenticator

__all__ = [
    "AuditSink", "AuthEvent", "AuthenticatorChain", "PasswordFileAuthenticator", "UserResolver",
    "logging_audit",
]
