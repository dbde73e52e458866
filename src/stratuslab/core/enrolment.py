"""Host enrolment: the cloud's own certificate authority signs each hypervisor host's key once,
in exchange for a one-time token an administrator issued for that host name; the certificate is
the host's identity from then on, and revoking the host revokes it.

Roles are carried by the certificate's organizational unit: `hosts` (a node agent) or
`front-ends` (a stratus-server talking to agents).  Only the standard library.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from stratuslab.core.errors import InvalidInput

#: a host name: what the host certificate's CN and DNS SAN carry (an RFC 1123 label list)
HOST_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
#: token = secret + "." + the SHA-256 of the CA certificate (the agent checks the CA it is given)
TOKEN_SEPARATOR = "."


class Role(StrEnum):
    HOST = "hosts"
    FRONT_END = "front-ends"


def check_host_name(name: str) -> str:
    if len(name) > 128 or not HOST_NAME.match(name):
        raise InvalidInput(f"host name {name[:80]!r} is not a valid host name",
                           hint="use lower-case letters, digits, '-' and '.' (e.g. node-1)")
    return name


def token_hash(secret: str) -> str:
    """What the database keeps of a token (never the token itself)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str]:
    """(secret, CA fingerprint) of a printed enrolment token."""
    secret, _, fingerprint = token.strip().partition(TOKEN_SEPARATOR)
    if not secret or len(fingerprint) != 64:
        raise InvalidInput("the enrolment token is malformed",
                           hint="copy the whole token printed by: stratus host add NAME")
    return secret, fingerprint


@dataclass
class Enrolment:
    """A one-time token issued for a host name (the row keeps only its hash)."""

    host: str
    token_hash: str
    expires_at: datetime
    used_at: datetime | None = None


@dataclass
class HostCertificate:
    serial: int
    host: str
    not_after: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class SignedCertificate:
    pem: str
    serial: int
    not_after: datetime


@dataclass(frozen=True)
class PeerIdentity:
    """Who presented a certificate the cloud CA signed."""

    name: str
    role: Role
    serial: int


class CertificateAuthorityPort(Protocol):
    """The cloud CA (drivers/pki): signs host requests, checks presented chains."""

    def ca_pem(self) -> str: ...
    def fingerprint(self) -> str: ...

    def sign_host(self, csr_pem: str, name: str) -> SignedCertificate:
        """Sign a host's certificate request whose subject names exactly `name`; refuse
        (InvalidInput) a malformed request or one naming another host."""
        ...

    def identify(self, chain_der: Sequence[bytes]) -> PeerIdentity:
        """The identity in a presented leaf certificate, after checking that the cloud CA
        signed it and that it is valid now; AuthenticationFailed otherwise.  Revocation is
        the caller's (it is data)."""
        ...


class EnrolmentRepo(Protocol):
    def add_enrolment(self, enrolment: Enrolment) -> None: ...
    def enrolment(self, token_hash: str, *, for_update: bool = False) -> Enrolment | None: ...
    def use_enrolment(self, token_hash: str, at: datetime) -> None: ...
    def drop_enrolments(self, host: str) -> None: ...
    def add_certificate(self, cert: HostCertificate) -> None: ...
    def certificate(self, serial: int) -> HostCertificate | None: ...
    def revoke_certificates(self, host: str, at: datetime) -> int: ...
    def certified_hosts(self) -> set[str]: ...
