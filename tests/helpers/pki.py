"""Certificate factories made with `cryptography`: CAs, intermediates and endorser certificates
carrying an email (marketplace signing, X.509 trust-chain tests), and small EC chains with every
knob a trust rule looks at (`ec_cert`, `ec_crl`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID


def _name(*rdns: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in rdns])


@dataclass
class Identity:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def p12(self, password: str, ca: Identity | None = None) -> bytes:
        return pkcs12.serialize_key_and_certificates(
            b"endorser",
            self.key,
            self.cert,
            [ca.cert] if ca else None,
            serialization.BestAvailableEncryption(password.encode()),
        )


_KEYS: list[rsa.RSAPrivateKey] = []


def _key(index: int) -> rsa.RSAPrivateKey:
    while len(_KEYS) <= index:  # key generation dominates; reuse a few keys per test session
        _KEYS.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _KEYS[index]


def make_ca(cn: str = "Test CA", key_index: int = 0, crl_url: str | None = None) -> Identity:
    """A self-signed CA; `crl_url` puts a cRLDistributionPoints extension naming it."""
    key = _key(key_index)
    name = _name((NameOID.DOMAIN_COMPONENT, "eu"), (NameOID.DOMAIN_COMPONENT, "stratuslab"),
                 (NameOID.COMMON_NAME, cn))
    now = datetime.now(UTC)
    builder = x509.CertificateBuilder()
    if crl_url:
        builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier(crl_url)], None, None, None)]), critical=False)
    cert = (
        builder
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    return Identity(key, cert)


def make_endorser(
    ca: Identity,
    cn: str = "Alice Example",
    email: str | None = "alice@example.org",
    key_index: int = 1,
    days: int = 365,
) -> Identity:
    key = _key(key_index)
    name = _name((NameOID.DOMAIN_COMPONENT, "eu"), (NameOID.DOMAIN_COMPONENT, "stratuslab"),
                 (NameOID.ORGANIZATION_NAME, "Test"), (NameOID.COMMON_NAME, cn))
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if email:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False
        )
    return Identity(key, builder.sign(ca.key, hashes.SHA256()))


def make_intermediate(ca: Identity, cn: str = "Test Sub CA", key_index: int = 4) -> Identity:
    key = _key(key_index)
    name = _name((NameOID.DOMAIN_COMPONENT, "eu"), (NameOID.DOMAIN_COMPONENT, "stratuslab"),
                 (NameOID.COMMON_NAME, cn))
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca.key, hashes.SHA256())
    )
    return Identity(key, cert)


def make_crl(ca: Identity, revoked: tuple[Identity, ...] = (), *, issued: datetime | None = None,
             valid: timedelta = timedelta(days=7)) -> bytes:
    """A DER CRL of `ca` listing `revoked`, issued at `issued` (default now) and valid for `valid`
    after that (a negative `valid` with an older `issued` makes an expired one)."""
    issued = issued or datetime.now(UTC).replace(microsecond=0)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.cert.subject)
               .last_update(issued).next_update(issued + valid))
    for who in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(who.cert.serial_number)
            .revocation_date(issued).build())
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


# --- small EC chains for rule tests (fast: mutation runs build hundreds of them) ---------------

_EC_USAGES = dict(digital_signature=True, content_commitment=False, key_encipherment=False,
                  data_encipherment=False, key_agreement=False, key_cert_sign=True,
                  crl_sign=True, encipher_only=False, decipher_only=False)
_SLASH_OIDS = {"DC": NameOID.DOMAIN_COMPONENT, "O": NameOID.ORGANIZATION_NAME,
               "CN": NameOID.COMMON_NAME, "emailAddress": NameOID.EMAIL_ADDRESS}


def slash_name(slash: str) -> x509.Name:
    """`/DC=eu/O=People/CN=Ann` as an x509.Name (DC, O, CN, emailAddress)."""
    return x509.Name([x509.NameAttribute(_SLASH_OIDS[k], v)
                      for k, v in (part.split("=", 1) for part in slash.strip("/").split("/"))])


@dataclass(frozen=True)
class EcCert:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def ec_cert(dn: str, issuer: EcCert | None = None, *, start: datetime, end: datetime,
            ca: bool | None = False, path_length: int | None = None,
            cert_sign: bool | None = True, emails: tuple[str, ...] = ()) -> EcCert:
    """A certificate for `dn` signed by `issuer` (self-signed without one).  `ca=None` leaves
    basicConstraints out, `cert_sign=None` keyUsage; `emails` go into subjectAltName."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder().subject_name(slash_name(dn))
               .issuer_name(issuer.cert.subject if issuer else slash_name(dn))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end))
    if ca is not None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
    if cert_sign is not None:
        builder = builder.add_extension(
            x509.KeyUsage(**{**_EC_USAGES, "key_cert_sign": cert_sign}), critical=True)
    if emails:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name(e) for e in emails]), critical=False)
    return EcCert(builder.sign(issuer.key if issuer else key, hashes.SHA256()), key)


def ec_crl(ca: EcCert, *revoked: x509.Certificate, last_update: datetime, next_update: datetime,
           signer: ec.EllipticCurvePrivateKey | None = None) -> x509.CertificateRevocationList:
    """A CRL of `ca` listing `revoked` (signed by `signer` instead, to forge one)."""
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.cert.subject)
               .last_update(last_update).next_update(next_update))
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(cert.serial_number)
            .revocation_date(last_update).build())
    return builder.sign(signer or ca.key, hashes.SHA256())


def ec_version_1(made: EcCert, signer: EcCert) -> x509.Certificate:
    """`made` as an old version-1 certificate (cryptography writes v3 only: the TBS version is
    set with pyasn1 and `signer` signs again).  Give it no extensions: v1 cannot carry them."""
    from pyasn1.codec.der import decoder, encoder
    from pyasn1.type import univ
    from pyasn1_modules import rfc5280

    parsed, _ = decoder.decode(made.cert.public_bytes(serialization.Encoding.DER),
                               asn1Spec=rfc5280.Certificate())
    parsed["tbsCertificate"]["version"] = "v1"
    parsed["signature"] = univ.BitString.fromOctetString(signer.key.sign(
        encoder.encode(parsed["tbsCertificate"]), ec.ECDSA(hashes.SHA256())))
    return x509.load_der_x509_certificate(encoder.encode(parsed))
