"""Certificate revocation lists: reading them, finding the one a CA issued, judging a certificate
against it, and where a CA says its CRL is published.

Shared by the two trust stores of the cloud — the authentication chain's CA directory
(`x509/trust.py`) and the marketplace's endorser trust (`services/marketplace/trust.py`) — so a
CRL is read (files of the CA directory and of the fetched-CRL directory), located
(cRLDistributionPoints, `<hash>.crl_url` files) and judged one way.  Each store turns a
`Revocation` into its own error (an authentication failure, an invalid signature) with its own
way out.
Imports only `cryptography` and the standard library.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from cryptography import x509

CRL_FILE = re.compile(r"(^[0-9a-f]{8}\.r\d+$)|(\.crl$)")
CRL = x509.CertificateRevocationList


class Revocation(StrEnum):
    """What a CA's CRL says of one certificate it issued."""

    GOOD = "good"  # a current CRL of that CA does not list it
    UNCHECKED = "unchecked"  # no CRL of that CA is known
    EXPIRED = "expired"  # the newest CRL of that CA is past its nextUpdate
    REVOKED = "revoked"


def load_crl(data: bytes) -> CRL:
    """A CRL in PEM or DER; ValueError when it is neither."""
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


def crl_for(crls: Iterable[CRL], ca: x509.Certificate) -> CRL | None:
    """The newest CRL among `crls` issued and signed by `ca` (a forged one is not its CRL)."""
    found = [c for c in crls
             if c.issuer == ca.subject and c.is_signature_valid(ca.public_key())]  # type: ignore[arg-type]
    return max(found, key=lambda c: c.last_update_utc, default=None)


def revocation(cert: x509.Certificate, ca: x509.Certificate, crls: Sequence[CRL],
               now: datetime) -> tuple[Revocation, CRL | None]:
    """`cert` (issued by `ca`) judged by the newest CRL of `ca` among `crls`."""
    crl = crl_for(crls, ca)
    if crl is None:
        return Revocation.UNCHECKED, None
    if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
        return Revocation.REVOKED, crl  # a revocation stays true after the list expires
    if crl.next_update_utc is not None and now > crl.next_update_utc:
        return Revocation.EXPIRED, crl
    return Revocation.GOOD, crl


def distribution_points(cert: x509.Certificate) -> list[str]:
    """The http(s) URLs of the cRLDistributionPoints extension of `cert`, in order."""
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    urls: list[str] = []
    for point in points:
        for name in point.full_name or ():
            if isinstance(name, x509.UniformResourceIdentifier) and \
                    name.value.lower().startswith(("http://", "https://")):
                urls.append(name.value)
    return urls


def crl_locations(cas: Iterable[x509.Certificate],
                  url_files: Mapping[str, Sequence[str]],
                  by_hash: Mapping[str, Sequence[x509.Certificate]]) -> dict[bytes, tuple[str, ...]]:
    """CA subject (DER) -> where it publishes its CRL: its cRLDistributionPoints, then the URLs
    of the `<hash>.crl_url` file beside its `<hash>.*` certificate file (`url_files` by hash)."""
    found: dict[bytes, tuple[str, ...]] = {}
    for ca in cas:
        named = [u for h, urls in url_files.items() if ca in by_hash.get(h, ()) for u in urls]
        urls = tuple(dict.fromkeys(distribution_points(ca) + named))
        if urls:
            found[ca.subject.public_bytes()] = urls
    return found


def read_crl_file(data: bytes) -> list[CRL]:
    """The CRL of one file, or none when it is broken (a CA that publishes one then fails
    closed; a broken file must not lock everyone out)."""
    try:
        return [load_crl(data)]
    except ValueError:
        return []


def read_crl_dirs(dirs: Iterable[str | os.PathLike[str]]) -> list[CRL]:
    """The CRLs of the CRL files of `dirs` (e.g. the ones the server fetched); absent ones
    hold none."""
    return [crl for d in dirs if Path(d).is_dir() for f in sorted(Path(d).iterdir())
            if f.is_file() and CRL_FILE.search(f.name) for crl in read_crl_file(f.read_bytes())]
