"""VOMS attribute certificates carried in proxies: parse, verify, and map FQANs.

The AC (RFC 5755 v2, DER) sits in the non-critical proxy extension 1.3.6.1.4.1.8005.100.100.5
as SEQUENCE OF SEQUENCE OF AttributeCertificate.  An AC is believed only when: its signature
verifies with the VOMS server certificate; that certificate validates to a trusted CA and matches
the `vomsdir/<vo>/<host>.lsc` DN chain (or is itself a PEM file in `vomsdir/<vo>/`); the AC is
within its validity window; and its holder is the proxy's end-entity certificate.  The VO and
host an AC names are opaque keys looked up among the vomsdir's own entries (never joined into
a file path), and nothing it says is used before its signature is verified.  Imports
`cryptography`, `pyasn1`, `pyasn1_modules` and core only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyasn1.codec.der import decoder, encoder
from pyasn1.type import univ
from pyasn1_modules import rfc5280, rfc5755

from stratuslab.core.errors import AuthenticationFailed
from stratuslab.services.auth.x509.dn import normalise_dn, slash_dn
from stratuslab.services.auth.x509.proxy import VerifiedChain
from stratuslab.services.auth.x509.trust import TrustStore, load_certificates, verify_end_entity

OID_VOMS_AC = x509.ObjectIdentifier("1.3.6.1.4.1.8005.100.100.5")
OID_FQAN = "1.3.6.1.4.1.8005.100.100.4"
OID_VOMS_CERTS = "1.3.6.1.4.1.8005.100.100.10"
_HASHES: dict[str, hashes.HashAlgorithm] = {
    "1.2.840.113549.1.1.5": hashes.SHA1(),  # sha1WithRSAEncryption, still what old VOMS signs
    "1.2.840.113549.1.1.11": hashes.SHA256(),
    "1.2.840.113549.1.1.12": hashes.SHA384(),
    "1.2.840.113549.1.1.13": hashes.SHA512(),
    "1.2.840.10045.4.3.2": hashes.SHA256(),
    "1.2.840.10045.4.3.3": hashes.SHA384(),
}
_AC_LIST = univ.SequenceOf(componentType=univ.SequenceOf(
    componentType=rfc5755.AttributeCertificate()))
_CERT_LIST = univ.SequenceOf(componentType=univ.SequenceOf(componentType=rfc5280.Certificate()))


def _fail(problem: str, hint: str = "ask your VO for a fresh proxy (voms-proxy-init)"
          ) -> AuthenticationFailed:
    return AuthenticationFailed(f"VOMS attribute certificate {problem}", hint=hint)


@dataclass(frozen=True)
class VomsAttributes:
    vo: str
    host: str
    server_dn: str
    fqans: tuple[str, ...]  # normalised: no Role=NULL / Capability=NULL
    not_after: datetime


def normalise_fqan(fqan: str) -> str:
    parts = [p for p in fqan.split("/") if p and p not in ("Role=NULL", "Capability=NULL")]
    return "/" + "/".join(parts)


def _name(asn1_name: Any) -> x509.Name:
    """pyasn1 rfc5280.Name -> cryptography Name (attribute values decoded to text)."""
    rdns = []
    for rdn in asn1_name[0]:
        attrs = []
        for atv in rdn:
            value, _ = decoder.decode(bytes(atv["value"]))
            attrs.append(x509.NameAttribute(x509.ObjectIdentifier(str(atv["type"])), str(value)))
        rdns.append(x509.RelativeDistinguishedName(attrs))
    return x509.Name(rdns)


def _directory_names(general_names: Any) -> list[x509.Name]:
    return [_name(gn["directoryName"]) for gn in general_names
            if gn.getName() == "directoryName"]


def _time(value: Any) -> datetime:
    return value.asDateTime.astimezone(UTC)  # type: ignore[no-any-return]


def extract_acs(chain: VerifiedChain) -> list[Any]:
    """The ACs of the first proxy (leaf first) that carries any."""
    for proxy in chain.proxies:
        try:
            ext = proxy.extensions.get_extension_for_oid(OID_VOMS_AC)
        except x509.ExtensionNotFound:
            continue
        raw = ext.value.value if isinstance(ext.value, x509.UnrecognizedExtension) else b""
        try:
            outer, _ = decoder.decode(raw, asn1Spec=_AC_LIST)
        except Exception as exc:  # pyasn1 raises many error types
            raise _fail("in the proxy cannot be read") from exc
        return [ac for inner in outer for ac in inner]
    return []


class VomsVerifier:
    """Checks ACs against a vomsdir (`/etc/grid-security/vomsdir` layout)."""

    def __init__(self, vomsdir: str | Path):
        self.vomsdir = Path(vomsdir)

    def verify(self, chain: VerifiedChain, store: TrustStore,
               now: datetime) -> VomsAttributes | None:
        """The attributes of the chain's AC, None when it has none; raise when it is bad."""
        acs = extract_acs(chain)
        if not acs:
            return None
        return self._verify_one(acs[0], chain, store, now)

    def _verify_one(self, ac: Any, chain: VerifiedChain, store: TrustStore,
                    now: datetime) -> VomsAttributes:
        info = ac["acinfo"]
        vo, host, fqans = _fqans(info)  # claims until the signature is checked: opaque keys
        issuers = _directory_names(info["issuer"]["v2Form"]["issuerName"])
        if not issuers:
            raise _fail("names no issuer")
        server_dn = slash_dn(issuers[0])
        self._trusted_signer(ac, vo, host, issuers[0], store, now)
        start = _time(info["attrCertValidityPeriod"]["notBeforeTime"])
        end = _time(info["attrCertValidityPeriod"]["notAfterTime"])
        if not start <= now <= end:
            raise _fail(f"from {server_dn} is valid only from {start:%Y-%m-%d %H:%M} to "
                        f"{end:%Y-%m-%d %H:%M} UTC")
        _check_holder(info["holder"], chain.eec)
        return VomsAttributes(vo, host, server_dn, fqans, end)

    def _vo_dir(self, vo: str) -> Path | None:
        """The vomsdir entry named exactly `vo`: names from the AC are looked up among the
        directory's own entries, never joined into a path (no `..`, no `/`)."""
        try:
            entries = {p.name: p for p in self.vomsdir.iterdir() if p.is_dir()}
        except OSError:
            return None
        return entries.get(vo)

    def _lsc(self, vo_dir: Path | None, host: str) -> Path | None:
        if vo_dir is None:
            return None
        files = {p.name: p for p in vo_dir.iterdir() if p.is_file() and p.suffix == ".lsc"}
        return files.get(f"{host}.lsc")

    def _trusted_signer(self, ac: Any, vo: str, host: str, issuer: x509.Name,
                        store: TrustStore, now: datetime) -> x509.Certificate:
        """The certificate that signed the AC, after the signature is verified and the
        certificate is shown to be the VO's server; the AC's VO and host are used only as
        keys into the vomsdir's own listing, and only once the signature holds."""
        embedded = _embedded_certs(ac)
        vo_dir = self._vo_dir(vo)
        if embedded:
            server = embedded[0]
            if server.subject != issuer:
                raise _fail(f"carries the certificate of {slash_dn(server.subject)}, "
                            f"not of its issuer {slash_dn(issuer)}")
            _check_signature(ac, server)
            lsc = self._lsc(vo_dir, host)
            if lsc is not None:
                path = verify_end_entity(server, store, now, untrusted=embedded[1:])
                _check_lsc(lsc, path)
                return server
        pems = sorted(vo_dir.glob("*.pem")) if vo_dir is not None else []
        for pem in pems + sorted(self.vomsdir.glob("*.pem")):
            for cert in load_certificates(pem.read_bytes()):
                if cert.subject == issuer:
                    _check_signature(ac, cert)
                    return cert
        raise _fail(f"from {slash_dn(issuer)} is not trusted here for the VO it names",
                    "the administrator adds <vomsdir>/<vo>/<host>.lsc naming the server and its"
                    " CA")


def _fqans(info: Any) -> tuple[str, str, tuple[str, ...]]:
    for attribute in info["attributes"]:
        if str(attribute["type"]) != OID_FQAN:
            continue
        for raw in attribute["values"]:
            syntax, _ = decoder.decode(bytes(raw), asn1Spec=rfc5755.IetfAttrSyntax())
            authority = ""
            for gn in syntax["policyAuthority"]:
                authority = str(gn.getComponent())
            vo, _, rest = authority.partition("://")
            host = rest.rsplit(":", 1)[0]
            fqans = tuple(normalise_fqan(bytes(v["octets"]).decode())
                          for v in syntax["values"] if v.getName() == "octets")
            if vo and host:
                return vo, host, fqans
    raise _fail("carries no FQANs")


def _embedded_certs(ac: Any) -> list[x509.Certificate]:
    for ext in ac["acinfo"]["extensions"]:
        if str(ext["extnID"]) != OID_VOMS_CERTS:
            continue
        try:
            outer, _ = decoder.decode(bytes(ext["extnValue"]), asn1Spec=_CERT_LIST)
        except Exception as exc:  # pyasn1 raises many error types
            raise _fail("has an unreadable server-certificate extension") from exc
        return [x509.load_der_x509_certificate(encoder.encode(c)) for inner in outer
                for c in inner]
    return []


def _check_lsc(lsc: Path, path: Sequence[x509.Certificate]) -> None:
    lines = [ln.strip() for ln in lsc.read_text().splitlines() if ln.strip()]
    chains: list[list[str]] = [[]]
    for line in lines:
        if line.startswith("-"):
            chains.append([])
        else:
            chains[-1].append(normalise_dn(line))
    actual = [slash_dn(c.subject) for c in path]
    if not any(chain == actual for chain in chains if chain):
        raise _fail(f"from {actual[0]} does not match {lsc}",
                    f"check that {lsc} names the server DN and then its CA DN")


def _check_signature(ac: Any, server: x509.Certificate) -> None:
    algorithm = str(ac["signatureAlgorithm"]["algorithm"])
    digest = _HASHES.get(algorithm)
    if digest is None:
        raise _fail(f"is signed with an unsupported algorithm {algorithm}")
    tbs = encoder.encode(ac["acinfo"])
    signature = ac["signatureValue"].asOctets()
    key = server.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, tbs, padding.PKCS1v15(), digest)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, tbs, ec.ECDSA(digest))
        else:
            raise _fail(f"is signed with an unsupported key type by {slash_dn(server.subject)}")
    except InvalidSignature as exc:
        raise _fail(f"is not signed by {slash_dn(server.subject)}",
                    "the AC was forged or its VOMS server is not the one trusted here") from exc


def _check_holder(holder: Any, eec: x509.Certificate) -> None:
    base = holder["baseCertificateID"]
    if not base.isValue:
        raise _fail("names no holder certificate")
    names = _directory_names(base["issuer"])
    # RFC 5755 names the holder certificate's issuer; voms-proxy-fake (and older VOMS servers)
    # write the holder's own subject there.  The serial must match in both cases.
    if int(base["serial"]) != eec.serial_number or (eec.issuer not in names
                                                    and eec.subject not in names):
        raise _fail(f"belongs to another certificate than {slash_dn(eec.subject)}",
                    "make the VOMS proxy from your own certificate")


@dataclass(frozen=True)
class FqanMap:
    """FQAN -> groups and roles.  Keys are normalised FQANs; a key ending in `/*` matches
    every FQAN below it.  Values are lists of `group:<name>` or `role:<name>`."""

    table: Mapping[str, Sequence[str]]

    def map(self, fqans: Iterable[str]) -> tuple[tuple[str, ...], frozenset[str]]:
        groups: list[str] = []
        roles: set[str] = set()
        for fqan in fqans:
            for key, targets in self.table.items():
                base = normalise_fqan(key.removesuffix("/*"))
                if fqan == base or (key.endswith("/*") and fqan.startswith(base + "/")):
                    for target in targets:
                        kind, _, name = target.partition(":")
                        if kind == "role":
                            roles.add(name)
                        elif name not in groups:
                            groups.append(name)
        return tuple(groups), frozenset(roles)
