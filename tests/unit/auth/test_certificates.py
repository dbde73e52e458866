"""X.509 certificates and proxies through the authenticator chain (PKI made in Python)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from stratuslab.core.auth import Credentials
from stratuslab.core.errors import AuthenticationFailed
from stratuslab.services.auth.certificates import GridmapFile, X509Authenticator
from stratuslab.services.auth.chain import AuthenticatorChain, AuthEvent
from stratuslab.services.auth.x509 import CaDirectory, issue

ALICE_DN = "/DC=eu/DC=stratuslab/O=Test/CN=Alice Example"


@pytest.fixture
def gridmap(tmp_path: Path) -> GridmapFile:
    path = tmp_path / "grid-mapfile"
    path.write_text(f'"{ALICE_DN}" alice\n'
                    '"CN=Bob Example,O=Test,DC=stratuslab,DC=eu" bob\n')
    return GridmapFile(path)


def make_chain(pki, tmp_path: Path, gridmap: GridmapFile, users,
               audit: list[AuthEvent], *, crl=None) -> AuthenticatorChain:
    ca_dir = CaDirectory(pki.write_ca_dir(tmp_path / "certificates", crl))
    link = X509Authenticator(ca_dir, gridmap, users, clock=lambda: pki.now)
    return AuthenticatorChain([link], audit.append)


def test_user_certificate_maps_through_gridmap(pki, tmp_path, gridmap, users, audit) -> None:
    chain = make_chain(pki, tmp_path, gridmap, users, audit)
    principal = chain.authenticate(Credentials(source="127.0.0.1",
                                               cert_chain=pki.der(pki.alice.cert)))
    assert (principal.user, principal.method) == ("alice", "x509")
    assert audit[-1].success and audit[-1].identity == ALICE_DN


def test_gridmap_accepts_rfc4514_spelling(pki, tmp_path, gridmap, users, audit) -> None:
    chain = make_chain(pki, tmp_path, gridmap, users, audit)
    assert chain.authenticate(Credentials(cert_chain=pki.der(pki.bob.cert))).user == "bob"


@pytest.mark.parametrize("legacy", [False, True], ids=["rfc3820", "legacy"])
def test_proxy_identity_is_the_end_entity_dn(pki, tmp_path, gridmap, users, audit,
                                             legacy) -> None:
    proxy = issue.make_proxy(pki.alice, pki.now, legacy=legacy)
    chain = make_chain(pki, tmp_path, gridmap, users, audit)
    principal = chain.authenticate(Credentials(cert_chain=pki.der(proxy.cert, pki.alice.cert)))
    assert (principal.user, principal.method) == ("alice", "proxy")


def test_proxy_of_a_proxy_is_accepted(pki, tmp_path, gridmap, users, audit) -> None:
    first = issue.make_proxy(pki.alice, pki.now)
    second = issue.make_proxy(first, pki.now)
    chain = make_chain(pki, tmp_path, gridmap, users, audit)
    creds = Credentials(cert_chain=pki.der(second.cert, first.cert, pki.alice.cert))
    assert chain.authenticate(creds).user == "alice"


def assert_refused(chain: AuthenticatorChain, audit: list[AuthEvent], creds: Credentials,
                   reason: str) -> None:
    with pytest.raises(AuthenticationFailed, match=reason):
        chain.authenticate(creds)
    assert audit and not audit[-1].success and audit[-1].method == "x509"
    assert reason.split(".*")[0] in audit[-1].line()


def test_expired_certificate_fails(pki, tmp_path, gridmap, users, audit) -> None:
    old = issue.issue_cert(pki.ca, ALICE_DN, pki.now, days=1,
                           start=pki.now - timedelta(days=3))
    assert_refused(make_chain(pki, tmp_path, gridmap, users, audit), audit,
                   Credentials(cert_chain=pki.der(old.cert)), "expired at")


def test_expired_proxy_fails(pki, tmp_path, gridmap, users, audit) -> None:
    proxy = issue.make_proxy(pki.alice, pki.now - timedelta(days=2), hours=1)
    assert_refused(make_chain(pki, tmp_path, gridmap, users, audit), audit,
                   Credentials(cert_chain=pki.der(proxy.cert, pki.alice.cert)), "expired at")


def test_revoked_certificate_fails_when_the_ca_dir_has_a_crl(pki, tmp_path, gridmap, users,
                                                             audit) -> None:
    crl = issue.make_crl(pki.ca, [pki.alice.cert], pki.now)
    assert_refused(make_chain(pki, tmp_path, gridmap, users, audit, crl=crl), audit,
                   Credentials(cert_chain=pki.der(pki.alice.cert)), "has been revoked")


def test_proxy_of_a_revoked_certificate_fails(pki, tmp_path, gridmap, users, audit) -> None:
    crl = issue.make_crl(pki.ca, [pki.alice.cert], pki.now)
    proxy = issue.make_proxy(pki.alice, pki.now)
    assert_refused(make_chain(pki, tmp_path, gridmap, users, audit, crl=crl), audit,
                   Credentials(cert_chain=pki.der(proxy.cert, pki.alice.cert)), "has been revoked")


def test_proxy_signed_by_the_wrong_key_fails(pki, tmp_path, gridmap, users, audit) -> None:
    forged = issue.make_proxy(pki.alice, pki.now, signing_key=pki.bob.key)
    assert_refused(make_chain(pki, tmp_path, gridmap, users, audit), audit,
                   Credentials(cert_chain=pki.der(forged.cert, pki.alice.cert)),
                   "is not signed by the key of")


def test_proxy_presented_with_another_users_certificate_fails(pki, tmp_path, gridmap, users,
                                                              audit) -> None:
    proxy = issue.make_proxy(pki.alice, pki.now)
    assert_refused(make_chain(pki, tmp_path, gridmap, users, audit), audit,
                   Credentials(cert_chain=pki.der(proxy.cert, pki.bob.cert)),
                   "is not named after its issuer")


def test_self_signed_certificate_fails(pki, tmp_path, gridmap, users, audit) -> None:
    selfsigned = issue.make_ca(ALICE_DN, pki.now)
    assert_refused(make_chain(pki, tmp_path, gridmap, users, audit), audit,
                   Credentials(cert_chain=pki.der(selfsigned.cert)), "is self-signed")


def test_certificate_from_an_untrusted_ca_fails(pki, tmp_path, gridmap, users, audit) -> None:
    stranger = issue.issue_cert(pki.rogue_ca, ALICE_DN, pki.now)
    assert_refused(make_chain(pki, tmp_path, gridmap, users, audit), audit,
                   Credentials(cert_chain=pki.der(stranger.cert, pki.rogue_ca.cert)),
                   "is self-signed and not a trusted CA")


def test_valid_but_unmapped_certificate_fails(pki, tmp_path, users, audit) -> None:
    empty = GridmapFile(tmp_path / "none")
    stranger = issue.issue_cert(pki.ca, "/DC=eu/DC=stratuslab/O=Test/CN=Carol", pki.now)
    assert_refused(make_chain(pki, tmp_path, empty, users, audit), audit,
                   Credentials(cert_chain=pki.der(stranger.cert)), "not mapped to a user")


def test_password_credentials_are_left_to_other_links(pki, tmp_path, gridmap, users) -> None:
    link = X509Authenticator(CaDirectory(pki.write_ca_dir(tmp_path / "c")), gridmap, users)
    assert link.authenticate(Credentials(username="alice", password="x")) is None


def test_original_login_cert_properties_maps_the_dn_to_itself(tmp_path) -> None:
    path = tmp_path / "login-cert.properties"
    path.write_text('"CN=Alice Example,O=Test,DC=stratuslab,DC=eu" cloud-access\n'
                    '# comment\n"/O=Grid/CN=host/vm1.example.org" vmhost\n')
    mapper = GridmapFile(path)
    assert mapper.user_for_dn(ALICE_DN) == ALICE_DN
    assert mapper.user_for_dn("/O=Grid/CN=host/vm1.example.org") == "vmhost"
    assert mapper.user_for_dn("/O=Other/CN=x") is None


def test_certificate_not_yet_valid_fails(pki, tmp_path, gridmap, users, audit) -> None:
    early = issue.issue_cert(pki.ca, ALICE_DN, pki.now, days=30,
                             start=pki.now + timedelta(days=2))
    assert_refused(make_chain(pki, tmp_path, gridmap, users, audit), audit,
                   Credentials(cert_chain=pki.der(early.cert)), "is not valid before")


def test_end_entity_certificate_used_as_an_intermediate_fails(pki, tmp_path, gridmap, users,
                                                               audit) -> None:
    # bob's own (end-entity) certificate signs a certificate in alice's name
    forged = issue.issue_cert(pki.bob, ALICE_DN, pki.now)
    assert_refused(make_chain(pki, tmp_path, gridmap, users, audit), audit,
                   Credentials(cert_chain=pki.der(forged.cert, pki.bob.cert)), "is not a CA")


def test_certificate_under_an_expired_intermediate_fails(pki, tmp_path, gridmap, users,
                                                         audit) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    key = issue.new_key()
    sub_cert = (  # a CA of our root that expired yesterday
        x509.CertificateBuilder()
        .subject_name(issue.name_from_slash("/DC=eu/DC=stratuslab/CN=Old Sub CA"))
        .issuer_name(pki.ca.cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(pki.now - timedelta(days=400))
        .not_valid_after(pki.now - timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(pki.ca.key, hashes.SHA256()))
    sub = issue.Issued(sub_cert, key)
    user = issue.issue_cert(sub, ALICE_DN, pki.now, days=30)
    assert_refused(make_chain(pki, tmp_path, gridmap, users, audit), audit,
                   Credentials(cert_chain=pki.der(user.cert, sub.cert)), "Old Sub CA.*expired at")
