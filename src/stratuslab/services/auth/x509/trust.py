"""Trust anchors and CRLs from a CA directory, and end-entity chain validation against them.

The directory follows `/etc/grid-security/certificates`: `<hash>.0` (PEM CA certificates),
`<hash>.r0` (CRLs), plus plain `*.pem`/`*.crt` and `*.crl` files, `<hash>.crl_url` (where the CA
publishes its CRL, beside its cRLDistributionPoints) and `<hash>.signing_policy` (IGTF/Globus
EACL: the subjects a CA may sign, `cond_subjects` globs); `.namespaces` and `.info` files are
ignored.  CRL files of further directories (`crl_dirs`: the ones the server fetches from the
CAs' distribution points with `crlrefresh.CrlRefresher`) count as well.  Path validation
enforces each CA's basic constraints (CA flag, pathLenConstraint), keyUsage (keyCertSign) and
signing policy; a revoked certificate is always refused, and with `require_crl` (the server's
default; `[auth.x509] crl_required = false` relaxes it) so is one whose CA has no CRL or an
expired one.  The directories are re-read when they change.
Imports only `cryptography` and core.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding

from stratuslab.core.errors import AuthenticationFailed, InvalidInput, Unavailable
from stratuslab.services.auth.x509.crl import (
    CRL_FILE,
    Revocation,
    crl_for,
    crl_locations,
    read_crl_dirs,
    read_crl_file,
    revocation,
)
from stratuslab.services.auth.x509.dn import normalise_dn, slash_dn

_CERT_FILE = re.compile(r"(^[0-9a-f]{8}\.\d+$)|(\.(pem|crt)$)")
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


@dataclass(frozen=True)
class TrustStore:
    """Trusted CA certificates and the CRLs they issued."""

    cas: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...] = ()
    #: CA subject (slash DN) -> subject globs it may sign (from .signing_policy files)
    policies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    require_crl: bool = False
    #: CA subject (DER) -> where it publishes its CRL (cRLDistributionPoints, `.crl_url` files)
    crl_urls: Mapping[bytes, tuple[str, ...]] = field(default_factory=dict)
    _by_subject: dict[bytes, list[x509.Certificate]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for ca in self.cas:
            self._by_subject.setdefault(ca.subject.public_bytes(), []).append(ca)

    @classmethod
    def from_directory(cls, path: str | os.PathLike[str], *, require_crl: bool = False,
                       crl_dirs: Sequence[str | os.PathLike[str]] = ()) -> TrustStore:
        root = Path(path)
        if not root.is_dir():
            raise Unavailable(
                f"CA directory {root} does not exist",
                hint="set [auth.x509] ca_dir to a directory of CA certificates",
            )
        cas: list[x509.Certificate] = []
        crls: list[x509.CertificateRevocationList] = []
        policies: dict[str, tuple[str, ...]] = {}
        url_files: dict[str, list[str]] = {}  # grid hash -> URLs of its .crl_url file
        by_hash: dict[str, list[x509.Certificate]] = {}
        for entry in sorted(root.iterdir()):
            if not entry.is_file():
                continue
            try:
                if entry.name.endswith(".signing_policy"):
                    policies.update(parse_signing_policy(entry.read_text(errors="replace")))
                elif entry.name.endswith(".crl_url"):
                    url_files[entry.name.split(".")[0]] = entry.read_text(errors="replace").split()
                elif _CERT_FILE.search(entry.name):
                    loaded = load_certificates(entry.read_bytes())
                    cas.extend(loaded)
                    by_hash.setdefault(entry.name.split(".")[0], []).extend(loaded)
                elif CRL_FILE.search(entry.name):
                    crls.extend(read_crl_file(entry.read_bytes()))
            except ValueError:
                continue  # a broken file must not lock everyone out; the CA is simply absent
        crls.extend(read_crl_dirs(crl_dirs))
        return cls(tuple(cas), tuple(crls), policies, require_crl,
                   crl_locations(cas, url_files, by_hash))

    def issuers_of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        return list(self._by_subject.get(cert.issuer.public_bytes(), []))

    def crl_for(self, ca: x509.Certificate) -> x509.CertificateRevocationList | None:
        return crl_for(self.crls, ca)


class CaDirectory:
    """A TrustStore that re-reads its directories when the mtime of one of them changes (a file
    added, removed or replaced, as fetch-crl and the CRL refresher do)."""

    def __init__(self, path: str | os.PathLike[str], *, require_crl: bool = False,
                 crl_dirs: Sequence[str | os.PathLike[str]] = ()):
        self.path = Path(path)
        self.require_crl = require_crl
        self.crl_dirs = tuple(Path(d) for d in crl_dirs)
        self._stamp: tuple[int, ...] | None = None
        self._store: TrustStore | None = None

    def __call__(self) -> TrustStore:
        stamp = tuple(_mtime(d) for d in (self.path, *self.crl_dirs))
        if self._store is None or stamp != self._stamp:
            self._store = TrustStore.from_directory(self.path, require_crl=self.require_crl,
                                                    crl_dirs=self.crl_dirs)
            self._stamp = stamp
        return self._store


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


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
    verdict, crl = revocation(cert, ca, store.crls, now)
    if verdict is Revocation.REVOKED:
        raise cert_failure(cert, "has been revoked by its CA",
                           "ask your CA for a new certificate")
    if verdict is Revocation.GOOD or not store.require_crl:
        return
    urls = store.crl_urls.get(ca.subject.public_bytes(), ())
    where = (f"the server fetches it from {', '.join(urls)} every [auth.x509] crl_refresh "
             "seconds" if urls else "install it in the CA directory (fetch-crl)")
    relax = "or accept the risk: [auth.x509] crl_required = false"
    if verdict is Revocation.EXPIRED:
        assert crl is not None and crl.next_update_utc is not None
        raise Unavailable(
            f"the CRL of CA {slash_dn(ca.subject)} expired at "
            f"{crl.next_update_utc:%Y-%m-%d %H:%M} UTC, so {slash_dn(cert.subject)} cannot be "
            "checked for revocation", hint=f"refresh it ({where}), {relax}")
    raise Unavailable(
        f"CA {slash_dn(ca.subject)} has no CRL at hand, so {slash_dn(cert.subject)} cannot be "
        "checked for revocation", hint=f"{where}, {relax}")


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
        _check_ca_limits(issuer, cas_below=len(path) - 1)
        _check_signing_policy(current, issuer, store)
        _check_revocation(current, issuer, store, now)
        path.append(issuer)
        current = issuer
    raise cert_failure(eec, f"has a chain longer than {MAX_DEPTH}", "check the CA directory")


def _check_ca_limits(ca: x509.Certificate, *, cas_below: int) -> None:
    """keyUsage must allow certificate signing; pathLenConstraint bounds the CAs below."""
    try:
        usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.key_cert_sign:
        raise cert_failure(ca, "may not sign certificates (its keyUsage lacks keyCertSign)",
                           "the chain was not issued by a real CA")
    try:
        limit = ca.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length
    except x509.ExtensionNotFound:
        limit = None
    if limit is not None and cas_below > limit:
        raise cert_failure(ca, f"allows {limit} CA(s) below it (pathLenConstraint), the chain"
                           f" has {cas_below}", "the chain was not issued within its CA's rules")


def parse_signing_policy(text: str) -> dict[str, tuple[str, ...]]:
    """CA slash DN -> subject globs, from a Globus/IGTF `.signing_policy` (EACL) text."""
    policies: dict[str, list[str]] = {}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split(None, 2)
        if words[0] == "access_id_CA" and len(words) == 3:
            try:
                current = normalise_dn(words[2].strip().strip("'\""))
            except InvalidInput:
                current = None  # names no CA this store could hold
                continue
            policies.setdefault(current, [])
        elif words[0] == "cond_subjects" and current is not None and len(words) == 3:
            policies[current] += re.findall(r'"([^"]*)"', words[2])
    return {ca: tuple(globs) for ca, globs in policies.items() if globs}


def _check_signing_policy(cert: x509.Certificate, ca: x509.Certificate,
                          store: TrustStore) -> None:
    globs = store.policies.get(slash_dn(ca.subject))
    if not globs:
        return
    subject = slash_dn(cert.subject)
    if not any(fnmatch.fnmatchcase(subject, normalise_glob(g)) for g in globs):
        raise cert_failure(cert, f"is outside the signing policy of CA {slash_dn(ca.subject)}",
                           "that CA may not issue this name; ask your own CA")


def normalise_glob(pattern: str) -> str:
    """A policy glob in the slash form slash_dn writes (attribute names as OpenSSL spells)."""
    try:
        return normalise_dn(pattern)
    except InvalidInput:
        return pattern


def _find_issuer(cert: x509.Certificate, store: TrustStore,
                 untrusted: Sequence[x509.Certificate]) -> x509.Certificate | None:
    candidates = store.issuers_of(cert) + [c for c in untrusted if c.subject == cert.issuer]
    for candidate in candidates:
        if candidate is not cert and _signed_by(cert, candidate):
            return candidate
    return None


Clock = Callable[[], datetime]
