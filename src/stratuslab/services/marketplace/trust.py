"""Trusted CAs, certificate chains, endorser identities and signing credentials.

A `TrustStore` holds CA certificates (loaded from a directory in the grid layout
`/etc/grid-security/certificates` — `<hash>.0` files next to `.signing_policy`, `.crl_url` … — or
plain `*.pem`/`*.crt` files) and checks that a signer's certificate chains to one of them at a given
time.  Chains are walked by hand (issuer name + signature + validity + CA flag) so that the old
IGTF-style CAs, which the WebPKI profile would refuse, are accepted.  Every link is also judged
by its issuer's CRL (CRL files of the directory and of the fetched-CRL directory, read and judged
by `services/auth/x509/crl.py` as the authentication chain does): a revoked certificate is
refused, and with `crl_required` so is one whose CA publishes a CRL (cRLDistributionPoints, or a
`<hash>.crl_url` file) that is missing or past its nextUpdate.  Imports core, `cryptography` and
the shared CRL module only; never drivers, persistence or api.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from stratuslab.core.marketplace import Endorser, InvalidMetadata, SignatureInvalid
from stratuslab.services.auth.x509.crl import (
    CRL,
    CRL_FILE,
    Revocation,
    crl_locations,
    read_crl_dirs,
    read_crl_file,
    revocation,
)
from stratuslab.services.marketplace.names import same_name

MAX_CHAIN = 8
_IGNORED_SUFFIXES = (".signing_policy", ".namespaces", ".info", ".lsc")


def dn(name: x509.Name) -> str:
    """RFC 2253 form, as the original Java signer wrote slreq:subject / slreq:issuer."""
    return name.rfc4514_string()


def slash_dn(name: x509.Name) -> str:
    """Grid (OpenSSL one-line) form: /DC=eu/DC=stratuslab/CN=Alice."""
    return "".join("/" + attr.rfc4514_string() for rdn in name.rdns for attr in rdn)


def dn_matches(text: str, name: x509.Name) -> bool:
    """Compared as parsed names: the Java signer wrote an email attribute as `OID=#hex`."""
    return same_name(text, name)


def certificate_emails(cert: x509.Certificate) -> list[str]:
    emails: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        emails.extend(str(e) for e in san.get_values_for_type(x509.RFC822Name))
    except x509.ExtensionNotFound:
        pass
    emails.extend(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS))
    return emails


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return cert.version == x509.Version.v1 and cert.subject == cert.issuer


def _describe(cert: x509.Certificate) -> str:
    return f"certificate {dn(cert.subject)!r}"


@dataclass(frozen=True)
class TrustStore:
    cas: tuple[x509.Certificate, ...] = ()
    sources: tuple[str, ...] = field(default_factory=tuple)
    crls: tuple[CRL, ...] = ()
    #: CA subject (DER) -> where it publishes its CRL (cRLDistributionPoints, `.crl_url` files)
    crl_urls: Mapping[bytes, tuple[str, ...]] = field(default_factory=dict)
    #: refuse a chain whose CA publishes a CRL that is missing or expired
    crl_required: bool = False

    @classmethod
    def from_pem(cls, *pems: bytes) -> TrustStore:
        certs: list[x509.Certificate] = []
        for pem in pems:
            certs.extend(x509.load_pem_x509_certificates(pem))
        return cls(tuple(certs))

    @classmethod
    def from_directory(cls, path: str | Path, *, crl_dirs: Sequence[str | Path] = (),
                       crl_required: bool = False) -> TrustStore:
        """Load every certificate file of a CA directory (hashed grid layout or plain PEM), its
        CRL files and `.crl_url` files, and the CRL files of `crl_dirs` (fetched ones)."""
        base = Path(path)
        if not base.is_dir():
            raise InvalidMetadata(
                f"CA directory {base} does not exist",
                hint="set [marketplace] ca_dir to a directory of trusted CA certificates",
            )
        certs: list[x509.Certificate] = []
        sources: list[str] = []
        crls: list[CRL] = []
        url_files: dict[str, list[str]] = {}  # grid hash -> URLs of its .crl_url file
        by_hash: dict[str, list[x509.Certificate]] = {}
        for file in sorted(base.iterdir()):
            if not file.is_file() or file.name.endswith(_IGNORED_SUFFIXES):
                continue
            data = file.read_bytes()
            if file.name.endswith(".crl_url"):
                url_files[file.name.split(".")[0]] = data.decode(errors="replace").split()
            elif CRL_FILE.search(file.name):
                crls.extend(read_crl_file(data))
            elif b"-----BEGIN CERTIFICATE-----" in data:
                loaded = x509.load_pem_x509_certificates(data)
                certs.extend(loaded)
                by_hash.setdefault(file.name.split(".")[0], []).extend(loaded)
                sources.append(file.name)
        crls.extend(read_crl_dirs(crl_dirs))
        urls = crl_locations(_unique(certs), url_files, by_hash)
        return cls(tuple(_unique(certs)), tuple(sources), tuple(crls), urls, crl_required)

    def verify_chain(
        self, leaf: x509.Certificate, extra: Sequence[x509.Certificate], now: datetime
    ) -> list[x509.Certificate]:
        """Return leaf..anchor, or raise SignatureInvalid naming the link that failed."""
        chain = [leaf]
        current = leaf
        for _ in range(MAX_CHAIN):
            _check_validity(current, now)
            if current in self.cas:
                return chain
            anchor = _issuer_among(self.cas, current)
            if anchor is not None:
                _check_validity(anchor, now)
                self._check_revocation(current, anchor, now)
                return [*chain, anchor]
            step = _issuer_among(extra, current)
            if step is None or not _is_ca(step) or step in chain:
                raise SignatureInvalid(
                    f"{_describe(current)} was issued by {dn(current.issuer)!r}, "
                    "which is not a trusted CA",
                    hint="add that CA to the marketplace's [marketplace] ca_dir if you trust it",
                )
            self._check_revocation(current, step, now)
            chain.append(step)
            current = step
        raise SignatureInvalid(f"certificate chain of {_describe(leaf)} is longer than {MAX_CHAIN}")

    def _check_revocation(self, cert: x509.Certificate, ca: x509.Certificate,
                          now: datetime) -> None:
        verdict, crl = revocation(cert, ca, self.crls, now)
        if verdict is Revocation.REVOKED:
            assert crl is not None
            raise SignatureInvalid(
                f"{_describe(cert)} has been revoked by its CA {dn(ca.subject)!r} (CRL of "
                f"{crl.last_update_utc:%Y-%m-%d %H:%M} UTC)",
                hint="the endorser must sign the metadata again with a valid certificate")
        urls = self.crl_urls.get(ca.subject.public_bytes(), ())
        if verdict is Revocation.GOOD or not self.crl_required:
            return
        relax = ("or accept the risk: [marketplace] crl_required = false")
        if verdict is Revocation.EXPIRED:
            assert crl is not None and crl.next_update_utc is not None
            raise SignatureInvalid(
                f"the CRL of CA {dn(ca.subject)!r} expired at "
                f"{crl.next_update_utc:%Y-%m-%d %H:%M} UTC, so {_describe(cert)} cannot be "
                "checked for revocation",
                hint="refresh it (the server fetches it every [marketplace] crl_refresh seconds "
                     f"from {', '.join(urls) or 'the CA directory'}), {relax}")
        if urls:  # UNCHECKED: fail closed only for a CA that says it publishes a CRL
            raise SignatureInvalid(
                f"CA {dn(ca.subject)!r} publishes a CRL ({', '.join(urls)}) but none is at hand, "
                f"so {_describe(cert)} cannot be checked for revocation",
                hint="let the server fetch it (every [marketplace] crl_refresh seconds), put it "
                     f"in [marketplace] ca_dir, {relax}")


def _unique(certs: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    out: list[x509.Certificate] = []
    for c in certs:
        if c not in out:
            out.append(c)
    return out


def _issuer_among(
    candidates: Sequence[x509.Certificate], cert: x509.Certificate
) -> x509.Certificate | None:
    for cand in candidates:
        if cand.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(cand)
        except (ValueError, TypeError, InvalidSignature):
            continue
        if _is_ca(cand):
            return cand
    return None


def _check_validity(cert: x509.Certificate, now: datetime) -> None:
    if now < cert.not_valid_before_utc:
        raise SignatureInvalid(f"{_describe(cert)} is not valid before {cert.not_valid_before_utc}")
    if now > cert.not_valid_after_utc:
        raise SignatureInvalid(f"{_describe(cert)} expired on {cert.not_valid_after_utc}")


def check_endorser(endorser: Endorser, cert: x509.Certificate, *, require_email: bool = True) -> None:
    """The endorsement must name the signing certificate (subject, issuer, email)."""
    if not dn_matches(endorser.subject, cert.subject):
        raise SignatureInvalid(
            f"endorser inconsistency (subject {endorser.subject!r} in the metadata, "
            f"{dn(cert.subject)!r} in the signing certificate)"
        )
    if not dn_matches(endorser.issuer, cert.issuer):
        raise SignatureInvalid(
            f"endorser inconsistency (issuer {endorser.issuer!r} in the metadata, "
            f"{dn(cert.issuer)!r} in the signing certificate)"
        )
    emails = [e.lower() for e in certificate_emails(cert)]
    if endorser.email.lower() in emails or (not emails and not require_email):
        return
    shown = ", ".join(emails) or "none"
    raise SignatureInvalid(
        f"endorser inconsistency (email {endorser.email!r} in the metadata, {shown} in the signing "
        "certificate)"
    )


@dataclass(frozen=True)
class SigningCredentials:
    """A private key (PEM, unencrypted) with its certificate and optional intermediates."""

    key_pem: bytes
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @classmethod
    def from_pkcs12(cls, data: bytes, password: str | None) -> SigningCredentials:
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(
                data, password.encode() if password else None
            )
        except ValueError as exc:
            raise InvalidMetadata(
                f"cannot open the PKCS#12 file ({exc})", hint="check --p12-password"
            ) from exc
        if key is None or cert is None:
            raise InvalidMetadata("the PKCS#12 file holds no key and certificate")
        return cls(_key_pem(key), cert, tuple(extra))

    @classmethod
    def from_pem(cls, key_data: bytes, cert_data: bytes, password: str | None = None) -> SigningCredentials:
        try:
            key = serialization.load_pem_private_key(key_data, password.encode() if password else None)
            certs = x509.load_pem_x509_certificates(cert_data)
        except (ValueError, TypeError) as exc:
            raise InvalidMetadata(f"cannot read the PEM key or certificate ({exc})") from exc
        return cls(_key_pem(key), certs[0], tuple(certs[1:]))


def _key_pem(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
