"""Host enrolment and host identity: an administrator adds a host (a one-time token, kept
hashed, expiring), the host's agent trades the token and a certificate request for a
certificate the cloud CA signs (CN = the host name), and from then on every call of that agent
is identified by that certificate unless an administrator revoked it.  Imports core only.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from stratuslab.core.enrolment import (
    CertificateAuthorityPort,
    Enrolment,
    HostCertificate,
    PeerIdentity,
    Role,
    check_host_name,
    split_token,
    token_hash,
)
from stratuslab.core.entities import Principal
from stratuslab.core.errors import AuthenticationFailed, Conflict, Forbidden, NotFound
from stratuslab.core.hosts import Host, HostState
from stratuslab.core.ports import Clock, UnitOfWorkFactory
from stratuslab.services.hosts import AGENT_URL

log = logging.getLogger(__name__)

REPO = "enrolment"
HOSTS = "hosts"
LISTING = "stratus host list"
TOKEN_TTL = timedelta(hours=1)
#: one answer for every token that cannot be used (no oracle of which tokens exist)
BAD_TOKEN = ("the enrolment token is unknown, already used or expired",
             "issue a new one on the front end: stratus host add NAME")


def _admin(principal: Principal, what: str) -> None:
    if not principal.is_admin:
        raise Forbidden(f"user {principal.user} may not {what}",
                        hint="only administrators manage hosts")


class EnrolmentService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ca: CertificateAuthorityPort, *,
                 token_ttl: timedelta = TOKEN_TTL) -> None:
        self.uow = uow
        self.clock = clock
        self.ca = ca
        self.token_ttl = token_ttl

    def add(self, principal: Principal, name: str) -> tuple[str, datetime]:
        """Register host `name` (state init) if new and issue its one-time enrolment token
        (a previous unused token of that host stops working)."""
        _admin(principal, f"add host {name}")
        check_host_name(name)
        fingerprint = self.ca.fingerprint()  # no CA: refused before anything is written
        secret = secrets.token_urlsafe(32)
        now = self.clock.now()
        expires = now + self.token_ttl
        with self.uow() as uow:
            hosts = uow.repo(HOSTS)
            if hosts.get(name, for_update=True) is None:
                hosts.add(Host(name=name), now)
            repo = uow.repo(REPO)
            repo.drop_enrolments(name)
            repo.add_enrolment(Enrolment(name, token_hash(secret), expires))
            uow.commit()
        log.info("enrolment token issued for host %s (expires %s)", name, expires.isoformat())
        return f"{secret}.{fingerprint}", expires

    def enroll(self, token: str, csr_pem: str) -> tuple[str, str]:
        """(certificate PEM, CA PEM) for the host the token was issued for; the token is spent."""
        secret, fingerprint = split_token(token)
        if not secrets.compare_digest(fingerprint, self.ca.fingerprint()):
            raise AuthenticationFailed("the enrolment token was issued by another cloud CA",
                                       hint="check --server, or issue a token on this front "
                                            "end: stratus host add NAME")
        digest = token_hash(secret)
        now = self.clock.now()
        with self.uow() as uow:
            repo = uow.repo(REPO)
            enrolment: Enrolment | None = repo.enrolment(digest, for_update=True)
            if enrolment is None or enrolment.used_at is not None or \
                    _aware(enrolment.expires_at) <= now:
                raise AuthenticationFailed(BAD_TOKEN[0], hint=BAD_TOKEN[1])
            signed = self.ca.sign_host(csr_pem, enrolment.host)
            repo.use_enrolment(digest, now)
            repo.add_certificate(HostCertificate(signed.serial, enrolment.host,
                                                 signed.not_after))
            uow.commit()
        log.info("host %s enrolled (certificate serial %x)", enrolment.host, signed.serial)
        return signed.pem, self.ca.ca_pem()

    def identify(self, chain_der: Sequence[bytes]) -> str:
        """The name of the enrolled, unrevoked host whose certificate this is."""
        peer: PeerIdentity = self.ca.identify(chain_der)
        if peer.role is not Role.HOST:
            raise AuthenticationFailed("this certificate is not a host certificate",
                                       hint="only node agents call this")
        with self.uow(readonly=True) as uow:
            cert: HostCertificate | None = uow.repo(REPO).certificate(peer.serial)
        if cert is None or cert.host != peer.name or cert.revoked_at is not None:
            raise AuthenticationFailed(f"the certificate of host {peer.name} is revoked or "
                                       "unknown to this cloud",
                                       hint=f"enrol the host again: stratus host add {peer.name}")
        return peer.name

    def agents(self) -> dict[str, str]:
        """Enrolled, unrevoked hosts that reported their agent's URL: name -> URL."""
        with self.uow(readonly=True) as uow:
            certified: set[str] = uow.repo(REPO).certified_hosts()
            hosts: list[Host] = uow.repo(HOSTS).list() if certified else []
        return {h.name: str(h.attributes[AGENT_URL]) for h in hosts
                if h.name in certified and h.attributes.get(AGENT_URL)}

    def revoke(self, principal: Principal, name: str) -> int:
        """Revoke every certificate of `name` and take it offline; returns how many."""
        _admin(principal, f"revoke host {name}")
        now = self.clock.now()
        with self.uow() as uow:
            if uow.repo(HOSTS).get(name, for_update=True) is None:
                raise NotFound("host", name, LISTING)
            repo = uow.repo(REPO)
            count: int = repo.revoke_certificates(name, now)
            repo.drop_enrolments(name)
            uow.repo(HOSTS).set_state(name, HostState.OFFLINE, now)
            uow.commit()
        log.info("host %s revoked (%d certificate(s))", name, count)
        return count

    def remove(self, principal: Principal, name: str) -> None:
        """Revoke the host and forget it; refused while VMs hold capacity there."""
        _admin(principal, f"remove host {name}")
        now = self.clock.now()
        with self.uow() as uow:
            host: Host | None = uow.repo(HOSTS).get(name, for_update=True)
            if host is None:
                raise NotFound("host", name, LISTING)
            if host.vms:
                raise Conflict(f"host {name} still holds {host.vms} VM(s)",
                               hint=f"stop or delete them first, or only revoke it: "
                                    f"stratus host revoke {name}")
            repo = uow.repo(REPO)
            repo.revoke_certificates(name, now)
            repo.drop_enrolments(name)
            uow.repo(HOSTS).delete(name)
            uow.commit()
        log.info("host %s removed", name)


def _aware(at: datetime) -> datetime:
    """SQLite gives naive datetimes back: they are UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
