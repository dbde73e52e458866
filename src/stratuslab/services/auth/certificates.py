"""Certificate authenticators (plain X.509, grid proxies, VOMS proxies) and DN -> user mapping.

A verified chain yields the end-entity DN; a DnMapper turns it into a cloud user name (LDAP
`seeAlso` as StratusLab did, or a gridmap-style file).  VOMS FQANs add groups and roles through
an FqanMap.  Imports `cryptography` and core only; the directory arrives as a core port.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from cryptography import x509

from stratuslab.core.auth import Credentials
from stratuslab.core.directory import AccountStatus, Directory
from stratuslab.core.entities import Principal, Role
from stratuslab.core.errors import AuthenticationFailed
from stratuslab.services.auth.common import Clock, UserResolver, resolve, utcnow
from stratuslab.services.auth.x509.dn import normalise_dn, parse_slash_dn, to_rfc4514
from stratuslab.services.auth.x509.proxy import VerifiedChain, verify_chain
from stratuslab.services.auth.x509.trust import TrustStore, load_client_cert
from stratuslab.services.auth.x509.voms import OID_VOMS_AC, FqanMap, VomsVerifier

ROLE_NAMES = frozenset(r.value for r in Role)


class DnMapper(Protocol):
    def user_for_dn(self, dn: str) -> str | None:
        """Cloud user name for a certificate DN in slash form, None when unmapped."""
        ...


class GridmapFile:
    """`"<DN>" user[,more]` lines (grid-mapfile), re-read when the file changes.

    The original `login-cert.properties` (`"<DN>" cloud-access`) reads the same way: when the
    names are only role names, the user name is the DN itself, as the original proxy did.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._stamp: int | None = None
        self._map: dict[str, str] = {}

    def _load(self) -> dict[str, str]:
        stamp = self.path.stat().st_mtime_ns if self.path.exists() else -1
        if stamp != self._stamp:
            self._map, self._stamp = {}, stamp
            text = self.path.read_text() if stamp != -1 else ""
            for line in text.splitlines():
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                parts = shlex.split(line)
                if len(parts) < 2:
                    continue
                dn = normalise_dn(parts[0])
                names = [n for n in re.split(r"[,\s]+", " ".join(parts[1:])) if n]
                users = [n for n in names if n not in ROLE_NAMES]
                self._map[dn] = users[0] if users else dn
        return self._map

    def user_for_dn(self, dn: str) -> str | None:
        return self._load().get(normalise_dn(dn))


class DirectoryDnMapper:
    """The person whose LDAP `seeAlso` holds the DN."""

    def __init__(self, directory: Directory):
        self.directory = directory

    def user_for_dn(self, dn: str) -> str | None:
        person = self.directory.user_for_cert_dn(to_rfc4514(dn))
        # a pending registration's claim of a DN maps nothing (it is not proof of holding it)
        return person.uid if person and person.status is AccountStatus.ACTIVE else None


class FirstMapper:
    """Asks several mappers in order."""

    def __init__(self, mappers: Sequence[DnMapper]):
        self.mappers = tuple(mappers)

    def user_for_dn(self, dn: str) -> str | None:
        for mapper in self.mappers:
            user = mapper.user_for_dn(dn)
            if user:
                return user
        return None


def parse_chain(credentials: Credentials) -> list[x509.Certificate]:
    try:
        return [load_client_cert(item) for item in credentials.cert_chain]
    except ValueError as exc:
        raise AuthenticationFailed("the client certificate cannot be read",
                                   hint="send an X.509 certificate (DER or PEM)") from exc


def carries_voms(chain: Sequence[x509.Certificate]) -> bool:
    for cert in chain:
        try:
            cert.extensions.get_extension_for_oid(OID_VOMS_AC)
            return True
        except x509.ExtensionNotFound:
            continue
    return False


class X509Authenticator:
    """Client certificates and RFC 3820/legacy proxies; identity = end-entity DN.

    With `defer_voms` a chain carrying a VOMS AC is left to the VOMS link; without it a VOMS
    proxy is accepted on its base DN, as the original proxy did.
    """

    method = "x509"

    def __init__(self, trust: Callable[[], TrustStore], dn_mapper: DnMapper,
                 resolve_user: UserResolver, *, clock: Clock = utcnow,
                 defer_voms: bool = False):
        self.trust, self.dn_mapper, self.resolve_user = trust, dn_mapper, resolve_user
        self.clock, self.defer_voms = clock, defer_voms

    def authenticate(self, credentials: Credentials) -> Principal | None:
        if not credentials.cert_chain:
            return None
        certs = parse_chain(credentials)
        if self.defer_voms and carries_voms(certs):
            return None
        chain = verify_chain(certs, self.trust(), self.clock())
        user = _mapped_user(self.dn_mapper, chain)
        principal = resolve(self.resolve_user, user, chain.kind)
        return replace(principal, limited=True) if chain.limited else principal


class CertificateProof:
    """Proof that a request's sender holds a certificate: its verified chain's identity.

    Registration binds a DN to an account only through this (the DN typed into a form proves
    nothing)."""

    def __init__(self, trust: Callable[[], TrustStore], *, clock: Clock = utcnow):
        self.trust, self.clock = trust, clock

    def dn_of(self, cert_chain: Sequence[bytes]) -> str:
        """The end-entity DN (slash form) of a chain that verifies; AuthenticationFailed else."""
        certs = [load_client_cert(item) for item in cert_chain] if cert_chain else []
        if not certs:
            raise AuthenticationFailed("no client certificate was presented",
                                       hint="connect over HTTPS with your certificate")
        return verify_chain(certs, self.trust(), self.clock()).identity


def _mapped_user(mapper: DnMapper, chain: VerifiedChain) -> str:
    user = mapper.user_for_dn(chain.identity)
    if user is None:
        raise AuthenticationFailed(
            f"certificate {chain.identity} is valid but not mapped to a user of this cloud",
            hint="register the DN with your account or ask for a gridmap entry",
        )
    return user


class VomsAuthenticator:
    """VOMS proxies: the chain as X509Authenticator, plus a trusted AC whose FQANs map to
    groups and roles.  Chains without an AC are left to the next link."""

    method = "voms"

    def __init__(self, trust: Callable[[], TrustStore], verifier: VomsVerifier,
                 fqan_map: FqanMap, resolve_user: UserResolver, *,
                 dn_mapper: DnMapper | None = None, clock: Clock = utcnow):
        self.trust, self.verifier, self.fqan_map = trust, verifier, fqan_map
        self.resolve_user, self.dn_mapper, self.clock = resolve_user, dn_mapper, clock

    def authenticate(self, credentials: Credentials) -> Principal | None:
        if not credentials.cert_chain:
            return None
        certs = parse_chain(credentials)
        if not carries_voms(certs):
            return None
        now = self.clock()
        store = self.trust()
        chain = verify_chain(certs, store, now)
        attributes = self.verifier.verify(chain, store, now)
        if attributes is None:
            return None
        groups, roles = self.fqan_map.map(attributes.fqans)
        if not groups and not roles:
            raise AuthenticationFailed(
                f"VO {attributes.vo} (FQANs {', '.join(attributes.fqans)}) is not accepted here",
                hint="ask the administrator to map your VO in [auth.voms] fqan_map",
            )
        user = self.dn_mapper.user_for_dn(chain.identity) if self.dn_mapper else None
        # an unmapped person gets an account of their own (never one shared by the VO); the
        # VO's groups come from the FQAN map at every login
        name = user or dn_account_name(chain.identity)
        principal = resolve(self.resolve_user, name, "voms", groups=groups, roles=roles)
        return replace(principal, limited=True) if chain.limited else principal


def dn_account_name(dn: str) -> str:
    """A stable cloud account name for a certificate DN nobody mapped: `voms-<cn>-<hash>`."""
    cns = [value for key, value in parse_slash_dn(normalise_dn(dn)) if key.upper() == "CN"]
    slug = re.sub(r"[^a-z0-9]+", "-", (cns[0] if cns else "").lower()).strip("-")[:24]
    digest = hashlib.sha256(normalise_dn(dn).encode()).hexdigest()[:10]
    return f"voms-{slug}-{digest}" if slug else f"voms-{digest}"
