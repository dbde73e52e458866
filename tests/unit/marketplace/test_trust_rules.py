"""The marketplace's trust rules (services/marketplace/trust.py), one rule per test on small EC
chains: the chain walk (anchors, intermediates, CA flags, loops, depth, validity edges), the CA
directory, the endorser checks (subject, issuer, email) and reading signing credentials.  Every
refusal is checked with the message the uploader reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12
from tests.helpers.pki import EcCert, ec_cert, ec_crl, ec_version_1, slash_name

from stratuslab.core.marketplace import Endorser, InvalidMetadata, SignatureInvalid
from stratuslab.services.marketplace.trust import (
    SigningCredentials,
    TrustStore,
    certificate_emails,
    check_endorser,
    dn,
    slash_dn,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
START, END = NOW - timedelta(days=1), NOW + timedelta(days=30)
ROOT_RFC = "CN=Root CA,DC=lab,DC=eu"
ALICE_RFC = "CN=Alice,O=People,DC=lab,DC=eu"
BAD = "invalid metadata: "  # every marketplace refusal starts so


def make(dn_: str, issuer: EcCert | None = None, **knobs: object) -> EcCert:
    return ec_cert(dn_, issuer, **{"start": START, "end": END, **knobs})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def root() -> EcCert:
    return make("/DC=eu/DC=lab/CN=Root CA", ca=True)


@pytest.fixture(scope="module")
def alice(root: EcCert) -> EcCert:
    return make("/DC=eu/DC=lab/O=People/CN=Alice", root, emails=("Alice@Example.org",))


def refused(exc: pytest.ExceptionInfo[SignatureInvalid]) -> tuple[str, str]:
    return exc.value.message, exc.value.hint


# --- names --------------------------------------------------------------------------------------

def test_names_are_written_in_both_spellings(alice: EcCert) -> None:
    assert dn(alice.cert.subject) == ALICE_RFC
    assert slash_dn(alice.cert.subject) == "/DC=eu/DC=lab/O=People/CN=Alice"


def test_endorser_emails_come_from_the_alt_name_and_the_subject(root: EcCert) -> None:
    both = make("/DC=eu/CN=Bob/emailAddress=bob@subject.org", root, emails=("bob@san.org",))
    assert certificate_emails(both.cert) == ["bob@san.org", "bob@subject.org"]
    assert certificate_emails(make("/DC=eu/CN=Nobody", root).cert) == []


# --- the chain walk -----------------------------------------------------------------------------

def test_a_leaf_issued_by_a_trusted_ca_chains_to_it(root: EcCert, alice: EcCert) -> None:
    assert TrustStore((root.cert,)).verify_chain(alice.cert, (), NOW) == [alice.cert, root.cert]
    assert TrustStore((root.cert,)).verify_chain(root.cert, (), NOW) == [root.cert]  # the CA


def test_intermediates_come_from_the_signature_and_must_be_cas(root: EcCert) -> None:
    sub = make("/DC=eu/DC=lab/CN=Sub CA", root, ca=True)
    ann = make("/DC=eu/DC=lab/CN=Ann", sub)
    store = TrustStore((root.cert,))
    assert store.verify_chain(ann.cert, (sub.cert,), NOW) == [ann.cert, sub.cert, root.cert]
    not_ca = make("/DC=eu/DC=lab/CN=Sub CA", root, ca=False)
    bob = make("/DC=eu/DC=lab/CN=Bob", not_ca)
    with pytest.raises(SignatureInvalid) as exc:
        store.verify_chain(bob.cert, (not_ca.cert,), NOW)
    assert refused(exc) == (
        BAD + "certificate 'CN=Bob,DC=lab,DC=eu' was issued by 'CN=Sub CA,DC=lab,DC=eu', which is not "
        "a trusted CA", "add that CA to the marketplace's [marketplace] ca_dir if you trust it")


def test_a_trusted_name_with_another_key_is_no_anchor(root: EcCert) -> None:
    impostor = make("/DC=eu/DC=lab/CN=Root CA", ca=True)
    mallory = make("/DC=eu/DC=lab/CN=Mallory", impostor)
    with pytest.raises(SignatureInvalid, match=f"^{BAD}certificate 'CN=Mallory,DC=lab,DC=eu' was "
                       "issued by 'CN=Root CA,DC=lab,DC=eu', which is not a trusted CA"):
        TrustStore((root.cert,)).verify_chain(mallory.cert, (), NOW)
    twin_store = TrustStore((impostor.cert, root.cert))  # the right one of two same-named CAs
    alice = make("/DC=eu/DC=lab/CN=Alice", root)
    assert twin_store.verify_chain(alice.cert, (), NOW) == [alice.cert, root.cert]


def test_a_trusted_certificate_that_is_no_ca_cannot_issue(root: EcCert) -> None:
    leaf_ca = make("/DC=eu/DC=lab/CN=Leaf", root, ca=False)
    below = make("/DC=eu/DC=lab/CN=Below", leaf_ca)
    with pytest.raises(SignatureInvalid, match="was issued by 'CN=Leaf,DC=lab,DC=eu'"):
        TrustStore((leaf_ca.cert,)).verify_chain(below.cert, (), NOW)


def test_an_old_version_1_root_without_extensions_is_a_ca_only_when_self_signed(
    root: EcCert,
) -> None:
    plain = make("/DC=eu/DC=old/CN=Old Root", ca=None, cert_sign=None)
    old_root = EcCert(ec_version_1(plain, plain), plain.key)
    ann = make("/DC=eu/DC=old/CN=Ann", old_root)
    assert TrustStore((old_root.cert,)).verify_chain(ann.cert, (), NOW) == [ann.cert,
                                                                           old_root.cert]
    unsigned_sub = make("/DC=eu/DC=old/CN=Old Sub", old_root, ca=None, cert_sign=None)
    old_sub = EcCert(ec_version_1(unsigned_sub, old_root), unsigned_sub.key)  # v1, not self-signed
    bob = make("/DC=eu/DC=old/CN=Bob", old_sub)
    with pytest.raises(SignatureInvalid, match="was issued by 'CN=Old Sub,DC=old,DC=eu'"):
        TrustStore((old_root.cert,)).verify_chain(bob.cert, (old_sub.cert,), NOW)


def test_eight_links_above_the_leaf_is_the_longest_chain_accepted(root: EcCert) -> None:
    subs, issuer = [], root
    for level in range(8):
        issuer = make(f"/DC=eu/DC=lab/CN=Sub {level}", issuer, ca=True)
        subs.append(issuer)
    store = TrustStore((root.cert,))
    extra = [s.cert for s in subs]
    assert len(store.verify_chain(subs[-1].cert, extra[:-1], NOW)) == 9
    ann = make("/DC=eu/DC=lab/CN=Ann", issuer)
    with pytest.raises(SignatureInvalid) as exc:
        store.verify_chain(ann.cert, extra, NOW)
    assert exc.value.message == (BAD + "certificate chain of certificate 'CN=Ann,DC=lab,DC=eu' is "
                                 "longer than 8")


def test_every_link_and_the_anchor_must_be_in_their_validity_window(root: EcCert) -> None:
    old_root = make("/DC=eu/DC=lab/CN=Old CA", ca=True, end=NOW - timedelta(seconds=1))
    ann = make("/DC=eu/DC=lab/CN=Ann", old_root)
    with pytest.raises(SignatureInvalid) as exc:
        TrustStore((old_root.cert,)).verify_chain(ann.cert, (), NOW)
    assert exc.value.message == (BAD + "certificate 'CN=Old CA,DC=lab,DC=eu' expired on "
                                 f"{NOW - timedelta(seconds=1)}")
    sub = make("/DC=eu/DC=lab/CN=Sub CA", root, ca=True, start=NOW + timedelta(seconds=1))
    bob = make("/DC=eu/DC=lab/CN=Bob", sub)
    with pytest.raises(SignatureInvalid) as early:
        TrustStore((root.cert,)).verify_chain(bob.cert, (sub.cert,), NOW)
    assert early.value.message == (BAD + "certificate 'CN=Sub CA,DC=lab,DC=eu' is not valid before "
                                   f"{NOW + timedelta(seconds=1)}")
    edges = make("/DC=eu/DC=lab/CN=Edges", root, start=NOW, end=NOW)
    assert TrustStore((root.cert,)).verify_chain(edges.cert, (), NOW)[0] == edges.cert


# --- the CA directory ---------------------------------------------------------------------------

def test_the_ca_directory_loads_certificates_once_and_skips_the_rest(
    tmp_path: Path, root: EcCert, alice: EcCert
) -> None:
    other = make("/DC=eu/DC=lab/CN=Other CA", ca=True)
    pem = root.cert.public_bytes(Encoding.PEM)
    (tmp_path / "0a1b2c3d.0").write_bytes(pem)
    (tmp_path / "bundle.pem").write_bytes(pem + other.cert.public_bytes(Encoding.PEM))
    for ignored in ("0a1b2c3d.signing_policy", "0a1b2c3d.namespaces", "0a1b2c3d.crl_url",
                    "0a1b2c3d.info", "voms.lsc"):
        (tmp_path / ignored).write_bytes(other.cert.public_bytes(Encoding.PEM) + b"\n")
    (tmp_path / "0a1b2c3d.r0").write_bytes(b"-----BEGIN X509 CRL-----\n...\n")
    (tmp_path / "sub").mkdir()
    store = TrustStore.from_directory(tmp_path)
    assert store.cas == (root.cert, other.cert)  # the root once, though two files hold it
    assert store.sources == ("0a1b2c3d.0", "bundle.pem")
    assert store.verify_chain(alice.cert, (), NOW) == [alice.cert, root.cert]


def test_a_missing_ca_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidMetadata) as exc:
        TrustStore.from_directory(tmp_path / "none")
    assert (exc.value.message, exc.value.hint) == (
        f"{BAD}CA directory {tmp_path / 'none'} does not exist",
        "set [marketplace] ca_dir to a directory of trusted CA certificates")


def test_trust_from_pem_bundles(root: EcCert, alice: EcCert) -> None:
    store = TrustStore.from_pem(root.cert.public_bytes(Encoding.PEM),
                                alice.cert.public_bytes(Encoding.PEM))
    assert store.cas == (root.cert, alice.cert)


# --- the endorser -------------------------------------------------------------------------------

def test_the_endorser_must_name_the_signing_certificate(alice: EcCert) -> None:
    check_endorser(Endorser("alice@example.org", ALICE_RFC, ROOT_RFC), alice.cert)
    check_endorser(Endorser("ALICE@example.ORG", "DC=eu,DC=lab,O=People,CN=Alice",
                            "/DC=eu/DC=lab/CN=Root CA"), alice.cert)  # either order and form
    cases = {
        Endorser("alice@example.org", "CN=Eve,O=People,DC=lab,DC=eu", ROOT_RFC):
            BAD + "endorser inconsistency (subject 'CN=Eve,O=People,DC=lab,DC=eu' in the metadata, "
            f"'{ALICE_RFC}' in the signing certificate)",
        Endorser("alice@example.org", ALICE_RFC, "CN=Other CA,DC=lab,DC=eu"):
            BAD + "endorser inconsistency (issuer 'CN=Other CA,DC=lab,DC=eu' in the metadata, "
            f"'{ROOT_RFC}' in the signing certificate)",
        Endorser("eve@example.org", ALICE_RFC, ROOT_RFC):
            BAD + "endorser inconsistency (email 'eve@example.org' in the metadata, alice@example.org "
            "in the signing certificate)",
    }
    for endorser, message in cases.items():
        with pytest.raises(SignatureInvalid) as exc:
            check_endorser(endorser, alice.cert, require_email=False)
        assert exc.value.message == message


def test_a_certificate_without_email_passes_only_when_email_is_not_required(
    root: EcCert,
) -> None:
    bare = make("/DC=eu/DC=lab/CN=Bare", root)
    endorser = Endorser("bare@example.org", "CN=Bare,DC=lab,DC=eu", ROOT_RFC)
    check_endorser(endorser, bare.cert, require_email=False)
    with pytest.raises(SignatureInvalid) as exc:
        check_endorser(endorser, bare.cert)
    assert exc.value.message == (BAD + "endorser inconsistency (email 'bare@example.org' in the "
                                 "metadata, none in the signing certificate)")


# --- signing credentials ------------------------------------------------------------------------

def test_credentials_from_pkcs12_and_pem_keep_key_certificate_and_chain(
    root: EcCert, alice: EcCert
) -> None:
    p12 = pkcs12.serialize_key_and_certificates(
        b"alice", alice.key, alice.cert, [root.cert],
        serialization.BestAvailableEncryption(b"pw"))
    creds = SigningCredentials.from_pkcs12(p12, "pw")
    assert (creds.cert, creds.chain) == (alice.cert, (root.cert,))
    assert creds.cert_pem == alice.cert.public_bytes(Encoding.PEM)
    key = serialization.load_pem_private_key(creds.key_pem, None)
    assert key.public_key().public_numbers() == alice.key.public_key().public_numbers()
    with pytest.raises(InvalidMetadata) as wrong:
        SigningCredentials.from_pkcs12(p12, "nope")
    assert wrong.value.message.startswith(BAD + "cannot open the PKCS#12 file (")
    assert wrong.value.hint == "check --p12-password"
    bare = pkcs12.serialize_key_and_certificates(
        b"x", None, None, [root.cert], serialization.NoEncryption())
    with pytest.raises(InvalidMetadata, match=f"^{BAD}the PKCS#12 file holds no key and certificate$"):
        SigningCredentials.from_pkcs12(bare, None)

    locked = alice.key.private_bytes(Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.BestAvailableEncryption(b"pem-pw"))
    chain = alice.cert.public_bytes(Encoding.PEM) + root.cert.public_bytes(Encoding.PEM)
    pem = SigningCredentials.from_pem(locked, chain, "pem-pw")
    assert (pem.cert, pem.chain, pem.key_pem) == (alice.cert, (root.cert,), creds.key_pem)
    with pytest.raises(InvalidMetadata, match=rf"^{BAD}cannot read the PEM key or certificate \("):
        SigningCredentials.from_pem(locked, chain, None)


# --- revocation ---------------------------------------------------------------------------------

URL = "http://crl.lab.example/root.crl"


def crl(ca: EcCert, *revoked: x509.Certificate, next_update: datetime = END
        ) -> x509.CertificateRevocationList:
    return ec_crl(ca, *revoked, last_update=START, next_update=next_update)


def with_crls(root: EcCert, *crls: x509.CertificateRevocationList, urls: tuple[str, ...] = (),
              required: bool = True) -> TrustStore:
    return TrustStore((root.cert,), crls=crls, crl_required=required,
                      crl_urls={root.cert.subject.public_bytes(): urls} if urls else {})


def test_a_revoked_endorser_or_intermediate_is_refused(root: EcCert, alice: EcCert) -> None:
    with pytest.raises(SignatureInvalid) as exc:
        with_crls(root, crl(root, alice.cert), required=False).verify_chain(alice.cert, (), NOW)
    assert refused(exc) == (
        f"{BAD}certificate '{ALICE_RFC}' has been revoked by its CA '{ROOT_RFC}' (CRL of "
        f"{START:%Y-%m-%d %H:%M} UTC)",
        "the endorser must sign the metadata again with a valid certificate")
    sub = make("/DC=eu/DC=lab/CN=Sub CA", root, ca=True)
    bob = make("/DC=eu/DC=lab/CN=Bob", sub)
    store = with_crls(root, crl(root, sub.cert), required=False)
    with pytest.raises(SignatureInvalid, match=f"^{BAD}certificate 'CN=Sub CA,DC=lab,DC=eu' has "
                       "been revoked by its CA"):
        store.verify_chain(bob.cert, (sub.cert,), NOW)
    other = make("/DC=eu/DC=lab/CN=Other", root)
    good = with_crls(root, crl(root, other.cert), urls=(URL,))
    assert good.verify_chain(alice.cert, (), NOW) == [alice.cert, root.cert]


def test_an_expired_crl_fails_closed_only_when_crls_are_required(root: EcCert,
                                                                  alice: EcCert) -> None:
    old = crl(root, next_update=NOW - timedelta(seconds=1))
    assert with_crls(root, old, required=False).verify_chain(alice.cert, (), NOW)[0] == alice.cert
    for urls, source in (((URL,), URL), ((), "the CA directory")):
        with pytest.raises(SignatureInvalid) as exc:
            with_crls(root, old, urls=urls).verify_chain(alice.cert, (), NOW)
        assert refused(exc) == (
            f"{BAD}the CRL of CA '{ROOT_RFC}' expired at "
            f"{NOW - timedelta(seconds=1):%Y-%m-%d %H:%M} UTC, so certificate '{ALICE_RFC}' "
            "cannot be checked for revocation",
            f"refresh it (the server fetches it every [marketplace] crl_refresh seconds from "
            f"{source}), or accept the risk: [marketplace] crl_required = false")


def test_a_missing_crl_fails_closed_only_for_a_ca_that_publishes_one(root: EcCert,
                                                                      alice: EcCert) -> None:
    assert with_crls(root).verify_chain(alice.cert, (), NOW)[0] == alice.cert
    assert with_crls(root, urls=(URL,), required=False).verify_chain(alice.cert, (), NOW)
    with pytest.raises(SignatureInvalid) as exc:
        with_crls(root, urls=(URL, URL + "2")).verify_chain(alice.cert, (), NOW)
    assert refused(exc) == (
        f"{BAD}CA '{ROOT_RFC}' publishes a CRL ({URL}, {URL}2) but none is at hand, so "
        f"certificate '{ALICE_RFC}' cannot be checked for revocation",
        "let the server fetch it (every [marketplace] crl_refresh seconds), put it in "
        "[marketplace] ca_dir, or accept the risk: [marketplace] crl_required = false")


def test_the_ca_directory_reads_crls_and_where_each_ca_publishes_them(
    tmp_path: Path, root: EcCert, alice: EcCert
) -> None:
    ca_dir, fetched = tmp_path / "ca", tmp_path / "fetched"
    ca_dir.mkdir()
    fetched.mkdir()
    other = make("/DC=eu/DC=lab/CN=Other CA", ca=True)
    (ca_dir / "0a1b2c3d.0").write_bytes(root.cert.public_bytes(Encoding.PEM))
    (ca_dir / "0a1b2c3d.crl_url").write_text(f"{URL}\n  {URL}2\n")
    (ca_dir / "ffff0000.0").write_bytes(other.cert.public_bytes(Encoding.PEM))
    (ca_dir / "ffff0000.r0").write_bytes(b"not a CRL")
    (ca_dir / "other.crl").write_bytes(crl(other).public_bytes(Encoding.DER))
    (fetched / "0a1b2c3d.r0").write_bytes(crl(root, alice.cert).public_bytes(Encoding.PEM))
    (fetched / "notes.txt").write_bytes(crl(root).public_bytes(Encoding.PEM))
    store = TrustStore.from_directory(ca_dir, crl_dirs=[fetched, tmp_path / "none"],
                                      crl_required=True)
    assert store.crl_required and len(store.crls) == 2
    assert store.crl_urls == {root.cert.subject.public_bytes(): (URL, URL + "2")}
    with pytest.raises(SignatureInvalid, match="has been revoked by its CA"):
        store.verify_chain(alice.cert, (), NOW)
    assert TrustStore.from_directory(ca_dir).crl_required is False


def test_two_cas_signing_each_other_are_a_loop_not_a_chain(root: EcCert) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key_a, key_b = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def ca(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str,
           signer: ec.EllipticCurvePrivateKey) -> x509.Certificate:
        return (x509.CertificateBuilder().subject_name(slash_name(subject))
                .issuer_name(slash_name(issuer)).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(START)
                .not_valid_after(END)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(signer, hashes.SHA256()))

    a = ca("/DC=eu/CN=Loop A", key_a, "/DC=eu/CN=Loop B", key_b)  # B vouches for A
    b = ca("/DC=eu/CN=Loop B", key_b, "/DC=eu/CN=Loop A", key_a)  # and A for B
    leaf = ec_cert("/DC=eu/CN=Eve", EcCert(a, key_a), start=START, end=END)
    with pytest.raises(SignatureInvalid) as exc:
        TrustStore((root.cert,)).verify_chain(leaf.cert, (a, b), NOW)
    assert exc.value.message == (f"{BAD}certificate 'CN=Loop B,DC=eu' was issued by "
                                 "'CN=Loop A,DC=eu', which is not a trusted CA")
