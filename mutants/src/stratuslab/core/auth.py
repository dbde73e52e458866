"""What front ends hand to the authenticator chain, and the authenticator port.

Only the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from stratuslab.core.entities import Principal


@dataclass(frozen=True, slots=True)
class Credentials:
    """Everything a request carries that may prove who sent it."""

    source: str = "unknown"  # client address, for the audit log
    username: str | None = None
    password: str | None = None
    token: str | None = None
    #: client certificate chain from TLS, DER, end-entity (or proxy) first
    cert_chain: tuple[bytes, ...] = ()
    #: why what was sent cannot be read (e.g. a malformed Authorization header); the chain
    #: refuses such credentials with this message instead of treating them as anonymous
    problem: str | None = None


class Authenticator(Protocol):
    """One link of the chain.

    Returns None when the credentials are not of its kind (the chain asks the next link), a
    Principal on success, and raises AuthenticationFailed when they are of its kind but wrong.
    """

    method: str

    def authenticate(self, credentials: Credentials) -> Principal | None: ...
