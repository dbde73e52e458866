"""The trust-chain rules of services/auth/x509/trust.py, one rule per test, on small EC chains
made here (fast enough for mutation runs): validity bounds, revocation and CRL freshness, the
CRL requirement, CA flag / keyUsage / pathLenConstraint, signing policies, untrusted
intermediates, and the CA directory (layout, broken files, re-reading).  Every refusal is
checked with its full message, so a changed word or a lost name shows."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from tests.helpers.pki import EcCert as Made
from tests.helpers.pki import ec_cert, ec_crl, ec_version_1

from stratuslab.core.errors import AuthenticationFailed, Unavailable
from stratuslab.services.auth.x509.trust import (
    CaDirectory,
    TrustStore,
    check_validity,
    load_certificates,
    load_client_cert,
    normalise_glob,
    parse_signing_policy,
    verify_end_entity,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
START, END = NOW - timedelta(days=1), NOW + timedelta(days=30)
ROOT_DN, SUB_DN, USER_DN = ("/DC=eu/DC=lab/CN=Root CA", "/DC=eu/DC=lab/CN=Sub CA",
                            "/DC=eu/DC=lab/O=People/CN=Ann")
def make(dn: str, issuer: Made | None = None, **knobs: object) -> Made:
    """A certificate valid from START to END unless told otherwise (tests.helpers.pki.ec_cert)."""
    return ec_cert(dn, issuer, **{"start": START, "end": END, **knobs})  # type: ignore[arg-type]


def crl(ca: Made, *revoked: x509.Certificate, next_update: datetime = END,
        signer: ec.EllipticCurvePrivateKey | None = None) -> x509.CertificateRevocationList:
    return ec_crl(ca, *revoked, last_update=START, next_update=next_update, signer=signer)


@pytest.fixture(scope="module")
def root() -> Made:
    return make(ROOT_DN, ca=True)


@pytest.fixture(scope="module")
def user(root: Made) -> Made:
    return make(USER_DN, root)


def refusal(exc: pytest.ExceptionInfo[AuthenticationFailed] | pytest.ExceptionInfo[Unavailable]
            ) -> tuple[str, str]:
    """The message and the hint of a refusal, apart."""
    return exc.value.message, exc.value.hint


# --- validity window ---------------------------------------------------------------------------

def test_a_certificate_is_valid_on_both_edges_of_its_window(user: Made) -> None:
    check_validity(user.cert, START)
    check_validity(user.cert, END)
    with pytest.raises(AuthenticationFailed) as early:
        check_validity(user.cert, START - timedelta(seconds=1))
    assert refusal(early) == (f"certificate {USER_DN} is not valid before "
                              f"{START:%Y-%m-%d %H:%M} UTC", "check the clocks of client and server")
    with pytest.raises(AuthenticationFailed) as late:
        check_validity(user.cert, END + timedelta(seconds=1))
    assert refusal(late) == (f"certificate {USER_DN} expired at {END:%Y-%m-%d %H:%M} UTC",
                             "renew the certificate (or make a new proxy)")


def test_the_path_is_returned_end_entity_first(root: Made) -> None:
    sub = make(SUB_DN, root, ca=True)
    ann = make(USER_DN, sub)
    path = verify_end_entity(ann.cert, TrustStore((root.cert,)), NOW, untrusted=(sub.cert,))
    assert path == [ann.cert, sub.cert, root.cert]


def test_every_certificate_on_the_path_is_checked_for_its_window(root: Made) -> None:
    sub = make(SUB_DN, root, ca=True, end=NOW - timedelta(minutes=1))
    ann = make(USER_DN, sub)
    with pytest.raises(AuthenticationFailed, match=f"^certificate {SUB_DN} expired at "):
        verify_end_entity(ann.cert, TrustStore((root.cert,)), NOW, untrusted=(sub.cert,))


# --- revocation --------------------------------------------------------------------------------

def test_a_revoked_certificate_is_refused_and_a_listed_neighbour_does_not_matter(
    root: Made, user: Made
) -> None:
    other = make("/DC=eu/DC=lab/CN=Other", root)
    with pytest.raises(AuthenticationFailed) as revoked:
        verify_end_entity(user.cert, TrustStore((root.cert,), (crl(root, user.cert),)), NOW)
    assert refusal(revoked) == (f"certificate {USER_DN} has been revoked by its CA",
                                "ask your CA for a new certificate")
    store = TrustStore((root.cert,), (crl(root, other.cert),), require_crl=True)
    assert verify_end_entity(user.cert, store, NOW) == [user.cert, root.cert]


def test_an_intermediate_revoked_by_the_root_breaks_the_chain(root: Made) -> None:
    sub = make(SUB_DN, root, ca=True)
    ann = make(USER_DN, sub)
    store = TrustStore((root.cert,), (crl(root, sub.cert), crl(sub)))
    with pytest.raises(AuthenticationFailed, match=f"^certificate {SUB_DN} has been revoked"):
        verify_end_entity(ann.cert, store, NOW, untrusted=(sub.cert,))


def test_an_expired_crl_fails_closed_from_the_second_after_its_next_update(
    root: Made, user: Made
) -> None:
    store = TrustStore((root.cert,), (crl(root, next_update=NOW),), require_crl=True)
    assert verify_end_entity(user.cert, store, NOW) == [user.cert, root.cert]
    later = NOW + timedelta(seconds=1)
    with pytest.raises(Unavailable) as stale:
        verify_end_entity(user.cert, store, later)
    assert refusal(stale) == (
        f"the CRL of CA {ROOT_DN} expired at {NOW:%Y-%m-%d %H:%M} UTC, so {USER_DN} cannot be "
        "checked for revocation",
        "refresh it (install it in the CA directory (fetch-crl)), or accept the risk: "
        "[auth.x509] crl_required = false")
    relaxed = TrustStore((root.cert,), (crl(root, next_update=NOW),))
    assert verify_end_entity(user.cert, relaxed, later) == [user.cert, root.cert]


def test_a_missing_crl_fails_closed_only_when_crls_are_required(root: Made, user: Made) -> None:
    assert verify_end_entity(user.cert, TrustStore((root.cert,)), NOW) == [user.cert, root.cert]
    with pytest.raises(Unavailable) as missing:
        verify_end_entity(user.cert, TrustStore((root.cert,), require_crl=True), NOW)
    assert refusal(missing) == (
        f"CA {ROOT_DN} has no CRL at hand, so {USER_DN} cannot be checked for revocation",
        "install it in the CA directory (fetch-crl), or accept the risk: [auth.x509] "
        "crl_required = false")
    published = TrustStore((root.cert,), require_crl=True,
                           crl_urls={root.cert.subject.public_bytes(): ("http://ca/x.crl",)})
    with pytest.raises(Unavailable) as unfetched:
        verify_end_entity(user.cert, published, NOW)
    assert refusal(unfetched)[1] == (
        "the server fetches it from http://ca/x.crl every [auth.x509] crl_refresh seconds, or "
        "accept the risk: [auth.x509] crl_required = false")


def test_a_crl_counts_only_when_its_ca_signed_it(root: Made, user: Made) -> None:
    forged = crl(root, user.cert, signer=ec.generate_private_key(ec.SECP256R1()))
    other_ca = make("/DC=eu/DC=lab/CN=Other CA", ca=True)
    foreign = crl(other_ca, user.cert)
    store = TrustStore((root.cert, other_ca.cert), (forged, foreign))
    assert store.crl_for(root.cert) is None
    assert store.crl_for(other_ca.cert) is foreign
    assert verify_end_entity(user.cert, store, NOW) == [user.cert, root.cert]
    genuine = crl(root)
    assert TrustStore((root.cert,), (forged, genuine)).crl_for(root.cert) is genuine


# --- CA flag, keyUsage, pathLenConstraint ------------------------------------------------------

def test_an_end_entity_cannot_issue_even_when_sent_as_an_intermediate(root: Made) -> None:
    fake_sub = make(SUB_DN, root, ca=False)
    ann = make(USER_DN, fake_sub)
    with pytest.raises(AuthenticationFailed) as refused:
        verify_end_entity(ann.cert, TrustStore((root.cert,)), NOW, untrusted=(fake_sub.cert,))
    assert refusal(refused) == (f"certificate {SUB_DN} is not a CA",
                                "use a certificate issued by a real CA")


def test_a_certificate_without_basic_constraints_is_no_ca_unless_it_is_version_1(
    root: Made
) -> None:
    no_flag = make(SUB_DN, root, ca=None)
    with pytest.raises(AuthenticationFailed) as refused:
        verify_end_entity(make(USER_DN, no_flag).cert, TrustStore((root.cert,)), NOW,
                          untrusted=(no_flag.cert,))
    assert refused.value.message == f"certificate {SUB_DN} is not a CA"
    plain = make(ROOT_DN, ca=None, cert_sign=None)  # no extensions at all
    v1_root = Made(ec_version_1(plain, plain), plain.key)
    assert v1_root.cert.version is x509.Version.v1
    ann = make(USER_DN, v1_root)
    assert verify_end_entity(ann.cert, TrustStore((v1_root.cert,)), NOW) == [ann.cert,
                                                                            v1_root.cert]


def test_a_ca_whose_key_usage_lacks_cert_sign_cannot_issue(root: Made) -> None:
    sub = make(SUB_DN, root, ca=True, cert_sign=False)
    with pytest.raises(AuthenticationFailed) as refused:
        verify_end_entity(make(USER_DN, sub).cert, TrustStore((root.cert,)), NOW,
                          untrusted=(sub.cert,))
    assert refusal(refused) == (
        f"certificate {SUB_DN} may not sign certificates (its keyUsage lacks keyCertSign)",
        "the chain was not issued by a real CA")
    unlimited = make(SUB_DN, root, ca=True, cert_sign=None)  # no keyUsage: nothing restricted
    ann = make(USER_DN, unlimited)
    assert verify_end_entity(ann.cert, TrustStore((root.cert,)), NOW,
                             untrusted=(unlimited.cert,))[1] == unlimited.cert


@pytest.mark.parametrize("limit,subs,accepted", [
    (0, 0, True), (0, 1, False), (1, 1, True), (1, 2, False), (None, 2, True),
])
def test_path_length_constraint_bounds_the_cas_below(limit: int | None, subs: int,
                                                     accepted: bool) -> None:
    top = make(ROOT_DN, ca=True, path_length=limit)
    chain, issuer = [], top
    for level in range(subs):
        issuer = make(f"/DC=eu/DC=lab/CN=Sub {level}", issuer, ca=True)
        chain.append(issuer.cert)
    ann = make(USER_DN, issuer)
    store = TrustStore((top.cert,))
    if accepted:
        assert len(verify_end_entity(ann.cert, store, NOW, untrusted=chain)) == subs + 2
        return
    with pytest.raises(AuthenticationFailed) as refused:
        verify_end_entity(ann.cert, store, NOW, untrusted=chain)
    assert refusal(refused) == (
        f"certificate {ROOT_DN} allows {limit} CA(s) below it (pathLenConstraint), the chain "
        f"has {subs}", "the chain was not issued within its CA's rules")


def test_a_chain_longer_than_ten_is_refused() -> None:
    top = make(ROOT_DN, ca=True)
    subs, issuer = [], top
    for level in range(9):
        issuer = make(f"/DC=eu/DC=lab/CN=Sub {level}", issuer, ca=True)
        subs.append(issuer.cert)
    store = TrustStore((top.cert,))
    assert len(verify_end_entity(subs[-1], store, NOW, untrusted=subs[:-1])) == 10
    ann = make(USER_DN, issuer)
    with pytest.raises(AuthenticationFailed) as refused:
        verify_end_entity(ann.cert, store, NOW, untrusted=subs)
    assert refusal(refused) == (f"certificate {USER_DN} has a chain longer than 10",
                                "check the CA directory")


# --- anchors and untrusted certificates ---------------------------------------------------------

def test_a_client_sent_self_signed_ca_is_never_an_anchor(root: Made) -> None:
    impostor = make(ROOT_DN, ca=True)  # the root's name, another key
    ann = make(USER_DN, impostor)
    with pytest.raises(AuthenticationFailed) as refused:
        verify_end_entity(ann.cert, TrustStore((root.cert,)), NOW, untrusted=(impostor.cert,))
    assert refusal(refused) == (f"certificate {ROOT_DN} is self-signed and not a trusted CA",
                                "use a certificate issued by a CA in the CA directory")
    with pytest.raises(AuthenticationFailed) as alone:
        verify_end_entity(ann.cert, TrustStore((root.cert,)), NOW)
    assert refusal(alone) == (
        f"certificate {USER_DN} was issued by {ROOT_DN}, which is not trusted",
        "install that CA in the CA directory (e.g. the IGTF bundle)")


def test_the_right_one_of_two_same_named_cas_is_found(root: Made) -> None:
    twin = make(ROOT_DN, ca=True)
    ann = make(USER_DN, root)
    assert verify_end_entity(ann.cert, TrustStore((twin.cert, root.cert)), NOW) == [ann.cert,
                                                                                   root.cert]
    assert TrustStore((twin.cert, root.cert)).issuers_of(ann.cert) == [twin.cert, root.cert]


# --- signing policies ---------------------------------------------------------------------------

POLICY = """# EACL of the lab CA
access_id_CA      X509         '/DC=eu/DC=lab/CN=Root CA'
pos_rights        globus        CA:sign
cond_subjects     globus     '"/DC=eu/DC=lab/O=People/*" "/DC=eu/DC=lab/CN=host-*"'

access_id_CA X509 'not a DN'
cond_subjects globus '"/*"'
access_id_CA X509 '/DC=eu/DC=lab/CN=Empty CA'
"""


def test_signing_policy_files_are_read_per_ca() -> None:
    assert parse_signing_policy(POLICY) == {
        "/DC=eu/DC=lab/CN=Root CA": ("/DC=eu/DC=lab/O=People/*", "/DC=eu/DC=lab/CN=host-*")}
    assert parse_signing_policy("cond_subjects globus '\"/*\"'\n") == {}  # no CA named before


def test_a_ca_may_sign_only_the_names_its_policy_lists(root: Made, user: Made) -> None:
    store = TrustStore((root.cert,), policies=parse_signing_policy(POLICY))
    assert verify_end_entity(user.cert, store, NOW) == [user.cert, root.cert]
    host = make("/DC=eu/DC=lab/CN=host-7", root)
    assert verify_end_entity(host.cert, store, NOW)[0] == host.cert
    outsider = make("/DC=eu/DC=lab/O=Robots/CN=R2", root)
    with pytest.raises(AuthenticationFailed) as refused:
        verify_end_entity(outsider.cert, store, NOW)
    assert refusal(refused) == (
        f"certificate /DC=eu/DC=lab/O=Robots/CN=R2 is outside the signing policy of CA {ROOT_DN}",
        "that CA may not issue this name; ask your own CA")
    no_policy = TrustStore((root.cert,), policies={"/DC=eu/DC=lab/CN=Other": ("/x",)})
    assert verify_end_entity(outsider.cert, no_policy, NOW)[0] == outsider.cert


def test_policy_globs_are_compared_in_the_slash_spelling() -> None:
    assert normalise_glob("CN=host-*,DC=lab,DC=eu") == "/DC=eu/DC=lab/CN=host-*"
    assert normalise_glob("/dc=eu/emailAddress=a@b/CN=x") == "/DC=eu/emailAddress=a@b/CN=x"
    assert normalise_glob("*") == "*"  # not a DN: kept as written


# --- the CA directory ---------------------------------------------------------------------------

def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)


def test_the_ca_directory_reads_hashed_and_plain_files_and_skips_broken_ones(
    tmp_path: Path, root: Made, user: Made
) -> None:
    other = make("/DC=eu/DC=lab/CN=Other CA", ca=True)
    third = make("/DC=eu/DC=lab/CN=Third CA", ca=True)
    (tmp_path / "0a1b2c3d.0").write_bytes(_pem(root.cert))
    (tmp_path / "other.pem").write_bytes(_pem(other.cert) + _pem(third.cert))  # a bundle
    (tmp_path / "third.crt").write_bytes(third.cert.public_bytes(Encoding.DER))
    (tmp_path / "0a1b2c3d.r0").write_bytes(crl(root, user.cert).public_bytes(Encoding.PEM))
    (tmp_path / "other.crl").write_bytes(crl(other).public_bytes(Encoding.DER))
    (tmp_path / "0a1b2c3d.signing_policy").write_text(POLICY)
    (tmp_path / "deadbeef.0").write_bytes(b"-----BEGIN CERTIFICATE-----\nbroken\n")
    (tmp_path / "0a1b2c3d.namespaces").write_bytes(_pem(make("/DC=x/CN=Ns", ca=True).cert))
    (tmp_path / "notes.txt").write_bytes(_pem(make("/DC=x/CN=Txt", ca=True).cert))
    (tmp_path / "sub").mkdir()
    store = TrustStore.from_directory(tmp_path, require_crl=True)
    assert sorted(c.subject.rfc4514_string() for c in store.cas) == [
        "CN=Other CA,DC=lab,DC=eu", "CN=Root CA,DC=lab,DC=eu", "CN=Third CA,DC=lab,DC=eu",
        "CN=Third CA,DC=lab,DC=eu"]
    assert len(store.crls) == 2 and store.require_crl
    assert store.policies == parse_signing_policy(POLICY)
    with pytest.raises(AuthenticationFailed, match="has been revoked"):
        verify_end_entity(user.cert, store, NOW)
    assert TrustStore.from_directory(tmp_path).require_crl is False


def test_a_missing_ca_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(Unavailable) as missing:
        TrustStore.from_directory(tmp_path / "nowhere")
    assert refusal(missing) == (f"CA directory {tmp_path / 'nowhere'} does not exist",
                                "set [auth.x509] ca_dir to a directory of CA certificates")


def test_the_ca_directory_is_read_again_when_it_changes(tmp_path: Path, root: Made) -> None:
    (tmp_path / "root.pem").write_bytes(_pem(root.cert))
    directory = CaDirectory(tmp_path, require_crl=True)
    first = directory()
    assert first.cas == (root.cert,) and first.require_crl
    assert directory() is first  # unchanged: not read again
    other = make("/DC=eu/DC=lab/CN=Other CA", ca=True)
    (tmp_path / "other.pem").write_bytes(_pem(other.cert))
    os.utime(tmp_path, ns=(0, os.stat(tmp_path).st_mtime_ns + 1_000_000_000))
    assert set(directory().cas) == {root.cert, other.cert}
    assert CaDirectory(tmp_path)().require_crl is False  # the relaxed store unless told


def test_client_certificates_come_as_pem_or_der(user: Made) -> None:
    pem, der = _pem(user.cert), user.cert.public_bytes(Encoding.DER)
    assert load_client_cert(pem.decode()) == user.cert
    assert load_client_cert(b"\n  " + pem) == user.cert
    assert load_client_cert(der) == user.cert
    assert load_certificates(der) == [user.cert]
    assert load_certificates(pem + pem) == [user.cert, user.cert]
