"""Making certificates in Python: a local CA, certificates, CRLs, RFC 3820 / legacy proxies,
and VOMS attribute certificates.

What grid-proxy-init does (a proxy from the user's certificate and key, for the CLI) and what
a small site needs for an all-in-one install (a private CA for server and node TLS).  VOMS ACs
are made the way voms-proxy-fake makes them, for tests and demos where no VOMS server exists.
Imports `cryptography`, `pyasn1`, `pyasn1_modules` and core only.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyasn1.codec.der import decoder, encoder
from pyasn1.type import univ, useful
from pyasn1_modules import rfc5280, rfc5755

from stratuslab.services.auth.x509.dn import _BY_SHORT, parse_slash_dn
from stratuslab.services.auth.x509.proxy import (
    OID_PROXY_RFC3820,
    PPL_INHERIT_ALL,
    _ProxyCertInfo,
)
from stratuslab.services.auth.x509.voms import OID_FQAN, OID_VOMS_AC, OID_VOMS_CERTS

Key = rsa.RSAPrivateKey


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: Key

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.NoEncryption())


def new_key(bits: int = 2048) -> Key:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def name_from_slash(dn: str) -> x509.Name:
    attrs = []
    for short, value in parse_slash_dn(dn):
        oid = _BY_SHORT.get(short.lower()) or x509.ObjectIdentifier(short)
        attrs.append(x509.NameAttribute(oid, value))
    return x509.Name(attrs)


def _builder(subject: x509.Name, issuer: x509.Name, key: Key, start: datetime,
             end: datetime) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end))


def make_ca(dn: str, now: datetime, *, days: int = 365, key: Key | None = None) -> Issued:
    key = key or new_key()
    name = name_from_slash(dn)
    cert = (_builder(name, name, key, now - timedelta(hours=1), now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256()))
    return Issued(cert, key)


def issue_cert(ca: Issued, dn: str, now: datetime, *, days: int = 365, server: bool = False,
               hosts: Sequence[str] = (), start: datetime | None = None) -> Issued:
    """An end-entity certificate (client, or server with `hosts` as subjectAltNames)."""
    import ipaddress

    key = new_key()
    begin = start or now - timedelta(hours=1)
    usage = [ExtendedKeyUsageOID.CLIENT_AUTH] + ([ExtendedKeyUsageOID.SERVER_AUTH]
                                                 if server else [])
    builder = (_builder(name_from_slash(dn), ca.cert.subject, key, begin,
                        begin + timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(True, False, True, False, False, False, False,
                                            False, False), critical=True)
               .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   ca.key.public_key()), False))
    if hosts:
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def make_crl(ca: Issued, revoked: Sequence[x509.Certificate], now: datetime, *,
             days: int = 7) -> x509.CertificateRevocationList:
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.cert.subject)
               .last_update(now - timedelta(hours=1)).next_update(now + timedelta(days=days)))
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(cert.serial_number)
            .revocation_date(now - timedelta(minutes=5)).build())
    return builder.sign(ca.key, hashes.SHA256())


def make_proxy(issuer: Issued, now: datetime, *, hours: float = 12, legacy: bool = False,
               extensions: Sequence[x509.ExtensionType] = (),
               signing_key: Key | None = None) -> Issued:
    """An impersonation proxy of `issuer` (RFC 3820 unless `legacy`); `signing_key` other than
    the issuer's makes a forged one, for tests."""
    key = new_key(1024 if legacy else 2048)
    cn = "proxy" if legacy else str(secrets.randbelow(2**31))
    subject = x509.Name([*issuer.cert.subject, x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (_builder(subject, issuer.cert.subject, key, now - timedelta(minutes=5),
                        now + timedelta(hours=hours))
               .add_extension(x509.KeyUsage(True, False, True, False, False, False, False,
                                            False, False), critical=True))
    if not legacy:
        info = _ProxyCertInfo()
        info["proxyPolicy"]["policyLanguage"] = univ.ObjectIdentifier(PPL_INHERIT_ALL)
        builder = builder.add_extension(
            x509.UnrecognizedExtension(OID_PROXY_RFC3820, encoder.encode(info)), critical=True)
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    return Issued(builder.sign(signing_key or issuer.key, hashes.SHA256()), key)


def _general_names_dn(name: x509.Name) -> rfc5280.GeneralNames:
    asn1_name, _ = decoder.decode(name.public_bytes(), asn1Spec=rfc5280.Name())
    names = rfc5280.GeneralNames()
    gn = rfc5280.GeneralName()
    gn["directoryName"]["rdnSequence"] = asn1_name["rdnSequence"]
    names.append(gn)
    return names


def _gtime(when: datetime) -> useful.GeneralizedTime:
    return useful.GeneralizedTime(when.strftime("%Y%m%d%H%M%SZ"))


@dataclass(frozen=True)
class AcSpec:
    vo: str
    host: str
    fqans: Sequence[str]
    start: datetime
    end: datetime
    port: int = 15000


def make_voms_ac(server: Issued, holder: x509.Certificate, spec: AcSpec) -> bytes:
    """DER of the proxy-extension value (SEQUENCE OF SEQUENCE OF AttributeCertificate)."""
    info = rfc5755.AttributeCertificateInfo()
    info["version"] = 1
    base = info["holder"]["baseCertificateID"]
    base["issuer"] = _general_names_dn(holder.issuer)
    base["serial"] = holder.serial_number
    info["issuer"]["v2Form"]["issuerName"] = _general_names_dn(server.cert.subject)
    info["signature"]["algorithm"] = univ.ObjectIdentifier("1.2.840.113549.1.1.11")
    info["serialNumber"] = x509.random_serial_number()
    info["attrCertValidityPeriod"]["notBeforeTime"] = _gtime(spec.start)
    info["attrCertValidityPeriod"]["notAfterTime"] = _gtime(spec.end)
    info["attributes"].append(_fqan_attribute(spec))
    info["extensions"].append(_certs_extension(server.cert))
    tbs = encoder.encode(info)
    ac = rfc5755.AttributeCertificate()
    ac["acinfo"] = info
    ac["signatureAlgorithm"]["algorithm"] = univ.ObjectIdentifier("1.2.840.113549.1.1.11")
    ac["signatureValue"] = univ.BitString.fromOctetString(
        server.key.sign(tbs, padding.PKCS1v15(), hashes.SHA256()))
    inner = univ.SequenceOf(componentType=rfc5755.AttributeCertificate())
    inner.append(ac)
    outer = univ.SequenceOf(componentType=univ.SequenceOf(
        componentType=rfc5755.AttributeCertificate()))
    outer.append(inner)
    return bytes(encoder.encode(outer))


def _fqan_attribute(spec: AcSpec) -> rfc5755.Attribute:
    syntax = rfc5755.IetfAttrSyntax()
    authority = rfc5280.GeneralName()
    authority["uniformResourceIdentifier"] = f"{spec.vo}://{spec.host}:{spec.port}"
    syntax["policyAuthority"].append(authority)
    for fqan in spec.fqans:
        value = syntax["values"].componentType.clone()
        value["octets"] = fqan.encode()
        syntax["values"].append(value)
    attribute = rfc5755.Attribute()
    attribute["type"] = univ.ObjectIdentifier(OID_FQAN)
    attribute["values"].append(encoder.encode(syntax))
    return attribute


def _certs_extension(cert: x509.Certificate) -> rfc5280.Extension:
    decoded, _ = decoder.decode(cert.public_bytes(serialization.Encoding.DER),
                                asn1Spec=rfc5280.Certificate())
    inner = univ.SequenceOf(componentType=rfc5280.Certificate())
    inner.append(decoded)
    outer = univ.SequenceOf(componentType=univ.SequenceOf(componentType=rfc5280.Certificate()))
    outer.append(inner)
    ext = rfc5280.Extension()
    ext["extnID"] = univ.ObjectIdentifier(OID_VOMS_CERTS)
    ext["extnValue"] = encoder.encode(outer)
    return ext


def voms_extension(ac_der: bytes) -> x509.UnrecognizedExtension:
    return x509.UnrecognizedExtension(OID_VOMS_AC, ac_der)
