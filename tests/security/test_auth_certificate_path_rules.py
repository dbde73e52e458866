"""Attacks on certificate path validation: a CA whose pathLenConstraint forbids sub-CAs (or
whose keyUsage forbids signing certificates) "issues" a working certificate anyway; a CA signs a
name outside its IGTF signing policy; a CA's CRL is missing, so a revoked certificate passes; a
limited proxy starts VMs.

Certificates are made by the test (cryptography); the authenticator is the real X509 link over
a CA directory in the grid hashed layout, and the cloud is the in-process test cloud."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from stratuslab.core.auth import Credentials
from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import Principal
from stratuslab.core.errors import AuthenticationFailed, Forbidden, Unavailable
from stratuslab.services.auth.certificates import GridmapFile, X509Authenticator
from stratuslab.services.auth.provisioning import CloudUsers
from stratuslab.services.auth.x509 import CaDirectory, issue
from stratuslab.settings import load_settings

NOW = datetime.now(UTC)
ROOT_DN = "/DC=eu/DC=stratuslab/CN=Path Root CA"


def _ca(subject: str, issuer: issue.Issued | None, *, path_length: int | None = None,
        cert_sign: bool = True) -> issue.Issued:
    key = issue.new_key()
    name = issue.name_from_slash(subject)
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer.cert.subject if issuer else name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - timedelta(hours=1)).not_valid_after(NOW + timedelta(days=9))
               .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), True)
               .add_extension(x509.KeyUsage(True, False, False, False, False, cert_sign, True,
                                            False, False), True))
    return issue.Issued(builder.sign(issuer.key if issuer else key, hashes.SHA256()), key)


def _ca_dir(root: Path, ca: issue.Issued, *, policy: str = "", crl: bool = True) -> CaDirectory:
    root.mkdir()
    (root / "0a0b0c0d.0").write_bytes(ca.cert_pem())
    if crl:
        (root / "0a0b0c0d.r0").write_bytes(issue.make_crl(ca, [], NOW).public_bytes(Encoding.PEM))
    if policy:
        (root / "0a0b0c0d.signing_policy").write_text(policy)
    return CaDirectory(root, require_crl=True)


def _creds(*certs: x509.Certificate) -> Credentials:
    return Credentials("192.0.2.9", cert_chain=tuple(c.public_bytes(Encoding.DER) for c in certs))


def _link(ca_dir: CaDirectory, tmp_path: Path, dn: str) -> X509Authenticator:
    gridmap = tmp_path / "grid-mapfile"
    gridmap.write_text(f'"{dn}" someone\n')
    return X509Authenticator(ca_dir, GridmapFile(gridmap),
                             lambda name: Principal(name, 7, (), frozenset({"cloud-access"})))


def test_chain_beyond_the_ca_path_length_is_refused(tmp_path: Path) -> None:
    root = _ca(ROOT_DN, None, path_length=0)
    sub = _ca("/DC=eu/DC=stratuslab/CN=Unlawful Sub CA", root)
    dn = "/DC=eu/DC=stratuslab/CN=Through The Sub CA"
    eec = issue.issue_cert(sub, dn, NOW)
    crl_dir = _ca_dir(tmp_path / "ca", root)
    (tmp_path / "ca" / "0e0e0e0e.r0").write_bytes(
        issue.make_crl(sub, [], NOW).public_bytes(Encoding.PEM))
    with pytest.raises(AuthenticationFailed, match="pathLenConstraint"):
        _link(crl_dir, tmp_path, dn).authenticate(_creds(eec.cert, sub.cert))


def test_certificate_from_a_ca_without_keycertsign_is_refused(tmp_path: Path) -> None:
    root = _ca(ROOT_DN, None, cert_sign=False)
    dn = "/DC=eu/DC=stratuslab/CN=Signed Anyway"
    eec = issue.issue_cert(root, dn, NOW)
    with pytest.raises(AuthenticationFailed, match="keyCertSign"):
        _link(_ca_dir(tmp_path / "ca", root), tmp_path, dn).authenticate(_creds(eec.cert))


def test_certificate_outside_the_ca_signing_policy_is_refused(tmp_path: Path) -> None:
    root = _ca(ROOT_DN, None)
    policy = (f"access_id_CA X509 '{ROOT_DN}'\npos_rights globus CA:sign\n"
              "cond_subjects globus '\"/DC=eu/DC=stratuslab/O=Users/*\"'\n")
    ca_dir = _ca_dir(tmp_path / "ca", root, policy=policy)
    inside, outside = "/DC=eu/DC=stratuslab/O=Users/CN=Ann", "/DC=org/DC=elsewhere/CN=Admin"
    ok = _link(ca_dir, tmp_path, inside).authenticate(
        _creds(issue.issue_cert(root, inside, NOW).cert))
    assert ok is not None and ok.user == "someone"
    with pytest.raises(AuthenticationFailed, match="outside the signing policy"):
        _link(ca_dir, tmp_path, outside).authenticate(
            _creds(issue.issue_cert(root, outside, NOW).cert))


def test_ca_without_crl_fails_closed_unless_relaxed(tmp_path: Path) -> None:
    root = _ca(ROOT_DN, None)
    dn = "/DC=eu/DC=stratuslab/CN=Unchecked"
    eec = issue.issue_cert(root, dn, NOW)
    ca_dir = _ca_dir(tmp_path / "ca", root, crl=False)
    with pytest.raises(Unavailable, match="has no CRL"):
        _link(ca_dir, tmp_path, dn).authenticate(_creds(eec.cert))
    relaxed = CaDirectory(tmp_path / "ca", require_crl=False)
    assert _link(relaxed, tmp_path, dn).authenticate(_creds(eec.cert)) is not None
    assert load_settings(None, env={}).auth.x509.crl_required is True  # the server's default


def _limited_proxy(holder: issue.Issued) -> issue.Issued:
    """A legacy (GT2) limited proxy: the holder's DN plus CN=limited proxy."""
    key = issue.new_key(1024)
    subject = x509.Name([*holder.cert.subject,
                         x509.NameAttribute(NameOID.COMMON_NAME, "limited proxy")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(holder.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(minutes=5)).not_valid_after(NOW + timedelta(hours=1))
            .sign(holder.key, hashes.SHA256()))
    return issue.Issued(cert, key)


def test_limited_proxy_cannot_start_vms_or_get_a_token(cloud, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = _ca(ROOT_DN, None)
    dn = "/DC=eu/DC=stratuslab/CN=Limited Larry"
    larry = issue.issue_cert(root, dn, NOW)
    gridmap = tmp_path / "grid-mapfile"
    gridmap.write_text(f'"{dn}" larry\n')
    users = CloudUsers(cloud.uow, cloud.clock)
    link = X509Authenticator(_ca_dir(tmp_path / "ca", root), GridmapFile(gridmap),
                             users.resolver("proxy"))
    principal = link.authenticate(_creds(_limited_proxy(larry).cert, larry.cert))
    assert principal is not None and principal.user == "larry"
    with pytest.raises(Forbidden, match="limited proxy"):
        cloud.compute.run(principal, RunInstance(image_id=1))
    with pytest.raises(Forbidden, match="limited proxy"):
        cloud.identity.issue_token(principal)
    assert cloud.compute.list(principal) is not None  # reading is still allowed
