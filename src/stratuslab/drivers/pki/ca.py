"""The cloud CA: a key and a self-signed certificate in `<data dir>/ca`, made once by
`stratus-server ca init`, which also issues the front end's own certificate (server and client
authentication: agents accept only a front end the cloud CA signed).  Host certificates carry the
host name as CN and DNS SAN and the organizational unit `hosts`.  EC P-256 keys throughout.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from stratuslab.core.enrolment import (
    PeerIdentity,
    Role,
    SignedCertificate,
    check_host_name,
)
from stratuslab.core.errors import AuthenticationFailed, Conflict, InvalidInput, Unavailable

CA_DAYS = 3650
CERT_DAYS = 825
FILES = ("ca.pem", "ca.key", "front-end.pem", "front-end.key")


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _name(common: str, role: Role | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "StratusLab cloud")]
    if role is not None:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role.value))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common))
    return x509.Name(attrs)


def _alt_names(names: Sequence[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for n in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            entries.append(x509.DNSName(n))
    return x509.SubjectAlternativeName(entries)


def new_key_and_request(name: str) -> tuple[bytes, str]:
    """A host's new private key (PEM) and its certificate request naming `name`."""
    check_host_name(name)
    key = _key()
    csr = (x509.CertificateSigningRequestBuilder().subject_name(_name(name))
           .add_extension(_alt_names([name]), critical=False).sign(key, hashes.SHA256()))
    return key_pem(key), csr.public_bytes(serialization.Encoding.PEM).decode()


class CloudCA:
    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)

    # -- made once --------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.dir / "ca.pem").is_file() and (self.dir / "ca.key").is_file()

    def init(self, front_end_names: Sequence[str]) -> None:
        """Create the CA and the front end's certificate; refuse to replace an existing CA
        (every enrolled host trusts it)."""
        if self.exists():
            raise Conflict(f"the cloud CA already exists in {self.dir}",
                           hint="keep it (every enrolled host trusts it); to start over, remove "
                                "that directory and enrol every host again")
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = _key()
        now = datetime.now(UTC)
        subject = _name("StratusLab cloud CA")
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(minutes=5))
                .not_valid_after(now + timedelta(days=CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                             False, False), critical=True)
                .sign(key, hashes.SHA256()))
        write_private(self.dir / "ca.key", key_pem(key))
        (self.dir / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        fe_key = _key()
        names = list(front_end_names) or ["localhost"]
        fe = self._issue(fe_key.public_key(), names[0], Role.FRONT_END, names)
        write_private(self.dir / "front-end.key", key_pem(fe_key))
        (self.dir / "front-end.pem").write_bytes(fe.public_bytes(serialization.Encoding.PEM))

    # -- reading ----------------------------------------------------------------------------
    def _cert(self) -> x509.Certificate:
        if not (self.dir / "ca.pem").is_file():  # an agent holds the certificate only
            raise Unavailable(f"this cloud has no CA in {self.dir}",
                              hint="create it once: stratus-server ca init")
        return x509.load_pem_x509_certificate((self.dir / "ca.pem").read_bytes())

    def ca_pem(self) -> str:
        return self._cert().public_bytes(serialization.Encoding.PEM).decode()

    def fingerprint(self) -> str:
        return self._cert().fingerprint(hashes.SHA256()).hex()

    def front_end_files(self) -> tuple[Path, Path]:
        return self.dir / "front-end.pem", self.dir / "front-end.key"

    # -- signing ----------------------------------------------------------------------------
    def _issue(self, public_key: object, common: str, role: Role,
               alt: Sequence[str]) -> x509.Certificate:
        ca = self._cert()
        ca_key = serialization.load_pem_private_key((self.dir / "ca.key").read_bytes(), None)
        now = datetime.now(UTC)
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
        return (x509.CertificateBuilder().subject_name(_name(common, role))
                .issuer_name(ca.subject).public_key(public_key)  # type: ignore[arg-type]
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(minutes=5))
                .not_valid_after(now + timedelta(days=CERT_DAYS))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                .add_extension(_alt_names(alt), critical=False)
                .sign(ca_key, hashes.SHA256()))  # type: ignore[arg-type]

    def sign_host(self, csr_pem: str, name: str) -> SignedCertificate:
        check_host_name(name)
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode())
        except ValueError:
            raise InvalidInput("the certificate request is not a PEM PKCS#10 request",
                               hint="let stratus-node enroll make it") from None
        if not csr.is_signature_valid:
            raise InvalidInput("the certificate request's signature does not verify",
                               hint="let stratus-node enroll make it")
        cns = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        asked = str(cns[0].value) if len(cns) == 1 else ""
        if asked != name:
            raise InvalidInput(f"the certificate request names host {asked[:80]!r}, but the "
                               f"token was issued for host {name!r}",
                               hint="enrol each host with its own token: stratus host add NAME")
        cert = self._issue(csr.public_key(), name, Role.HOST, [name])
        return SignedCertificate(cert.public_bytes(serialization.Encoding.PEM).decode(),
                                 cert.serial_number, cert.not_valid_after_utc)

    # -- checking ---------------------------------------------------------------------------
    def identify(self, chain_der: Sequence[bytes]) -> PeerIdentity:
        refused = AuthenticationFailed("the client certificate is not one the cloud CA issued",
                                       hint="enrol the host: stratus host add NAME, then "
                                            "stratus-node enroll")
        if not chain_der:
            raise AuthenticationFailed("a host certificate is required here",
                                       hint="only node agents call this")
        ca = self._cert()
        try:
            leaf = x509.load_der_x509_certificate(chain_der[0])
            leaf.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            raise refused from None
        now = datetime.now(UTC)
        if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
            raise AuthenticationFailed("the host certificate has expired",
                                       hint="enrol the host again: stratus host add NAME")
        ous = leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
        cns = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        try:
            role = Role(str(ous[0].value))
        except (IndexError, ValueError):
            raise refused from None
        return PeerIdentity(str(cns[0].value), role, leaf.serial_number)
