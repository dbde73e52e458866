"""Trust anchors and CRLs from a CA directory, and end-entity chain validation against them.

The directory follows `/etc/grid-security/certificates`: `<hash>.0` (PEM CA certificates),
`<hash>.r0` (CRLs, kept fresh by fetch-crl), plus plain `*.pem`/`*.crt` and `*.crl` files;
`.signing_policy`, `.namespaces` and `.info` files are ignored.  A CRL is honoured when its
issuer has one; an expired CRL fails closed.  The directory is re-read when it changes.
Imports only `cryptography` and core.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding

from stratuslab.core.errors import AuthenticationFailed, Unavailable
from stratuslab.services.auth.x509.dn import slash_dn

_CERT_FILE = re.compile(r"(^[0-9a-f]{8}\.\d+$)|(\.(pem|crt)$)")
_CRL_FILE = re.compile(r"(^[0-9a-f]{8}\.r\d+$)|(\.crl$)")
MAX_DEPTH = 10


def cert_failure(cert: x509.Certificate, problem: str, hint: str) -> AuthenticationFailed:
    return AuthenticationFailed(
        f"certificate {slash_dn(cert.subject)} {problem}", hint=hint
    )


def load_certificates(data: bytes) -> list[x509.Certificate]:
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


def load_client_cert(item: bytes | str) -> x509.Certificate:
    """One certificate of a client chain, DER or PEM (the ASGI TLS extension carries PEM)."""
    data = item.encode() if isinstance(item, str) else item
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def _load_crl(data: bytes) -> x509.CertificateRevocationList:
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


@dataclass(frozen=True)
class TrustStore:
    """Trusted CA certificates and the CRLs they issued."""

    cas: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...] = ()
    _by_subject: dict[bytes, list[x509.Certificate]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for ca in self.cas:
            self._by_subject.setdefault(ca.subject.public_bytes(), []).append(ca)

    @classmethod
    def from_directory(cls, path: str | os.PathLike[str]) -> TrustStore:
        root = Path(path)
        if not root.is_dir():
            raise Unavailable(
                f"CA directory {root} does not exist",
                hint="set [auth.x509] ca_dir to a directory of CA certificates",
            )
        cas: list[x509.Certificate] = []
        crls: list[x509.CertificateRevocationList] = []
        for entry in sorted(root.iterdir()):
            if not entry.is_file():
                continue
            try:
                if _CERT_FILE.search(entry.name):
                    cas.extend(load_certificates(entry.read_bytes()))
                elif _CRL_FILE.search(entry.name):
                    crls.append(_load_crl(entry.read_bytes()))
            except ValueError:
                continue  # a broken file must not lock everyone out; the CA is simply absent
        return cls(tuple(cas), tuple(crls))

    def issuers_of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        return list(self._by_subject.get(cert.issuer.public_bytes(), []))

    def crl_for(self, ca: x509.Certificate) -> x509.CertificateRevocationList | None:
        for crl in self.crls:
            if crl.issuer == ca.subject and crl.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
                return crl
        return None


class CaDirectory:
    """A TrustStore that re-reads its directory when the directory's mtime changes."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._stamp: int | None = None
        self._store: TrustStore | None = None

    def __call__(self) -> TrustStore:
        try:
            stamp = self.path.stat().st_mtime_ns
        except OSError:
            stamp = -1
        if self._store is None or stamp != self._stamp:
            self._store = TrustStore.from_directory(self.path)
            self._stamp = stamp
        return self._store


def check_validity(cert: x509.Certificate, now: datetime) -> None:
    if now < cert.not_valid_before_utc:
        raise cert_failure(
            cert,
            f"is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC",
            "check the clocks of client and server",
        )
    if now > cert.not_valid_after_utc:
        raise cert_failure(
            cert,
            f"expired at {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
            "renew the certificate (or make a new proxy)",
        )


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return cert.version == x509.Version.v1  # old v1 roots carry no extensions


def _check_revocation(cert: x509.Certificate, ca: x509.Certificate, store: TrustStore,
                      now: datetime) -> None:
    crl = store.crl_for(ca)
    if crl is None:
        return
    if crl.next_update_utc is not None and now > crl.next_update_utc:
        raise Unavailable(
            f"the CRL of CA {slash_dn(ca.subject)} expired at {crl.next_update_utc:%Y-%m-%d %H:%M}",
            hint="refresh the CA directory's CRLs (fetch-crl)",
        )
    if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
        raise cert_failure(cert, "has been revoked by its CA",
                           "ask your CA for a new certificate")


def verify_end_entity(
    eec: x509.Certificate,
    store: TrustStore,
    now: datetime,
    untrusted: Sequence[x509.Certificate] = (),
) -> list[x509.Certificate]:
    """Walk from `eec` to a self-signed anchor in `store`; return the path (eec first).

    Certificates in `untrusted` (sent by the client) may serve as intermediates, never as the
    anchor.  Every certificate on the path must be in its validity window and not revoked.
    """
    path = [eec]
    current = eec
    for _ in range(MAX_DEPTH):
        check_validity(current, now)
        if current.issuer == current.subject and any(
            c.public_bytes(Encoding.DER) == current.public_bytes(Encoding.DER)
            for c in store.issuers_of(current)
        ):
            return path
        issuer = _find_issuer(current, store, untrusted)
        if issuer is None:
            if current.issuer == current.subject:
                raise cert_failure(current, "is self-signed and not a trusted CA",
                                   "use a certificate issued by a CA in the CA directory")
            raise cert_failure(
                current, f"was issued by {slash_dn(current.issuer)}, which is not trusted",
                "install that CA in the CA directory (e.g. the IGTF bundle)",
            )
        if not _is_ca(issuer):
            raise cert_failure(issuer, "is not a CA", "use a certificate issued by a real CA")
        _check_revocation(current, issuer, store, now)
        path.append(issuer)
        current = issuer
    raise cert_failure(eec, f"has a chain longer than {MAX_DEPTH}", "check the CA directory")


def _find_issuer(cert: x509.Certificate, store: TrustStore,
                 untrusted: Sequence[x509.Certificate]) -> x509.Certificate | None:
    candidates = store.issuers_of(cert) + [c for c in untrusted if c.subject == cert.issuer]
    for candidate in candidates:
        if candidate is not cert and _signed_by(cert, candidate):
            return candidate
    return None


Clock = Callable[[], datetime]
