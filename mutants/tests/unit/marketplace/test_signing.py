from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree
from tests.helpers.marketdocs import NOW, creds, endorse, signed, unsigned, xmlsec_sign
from tests.helpers.pki import Identity, make_endorser

from stratuslab.core.marketplace import InvalidMetadata, SignatureInvalid
from stratuslab.services.marketplace import rdf, xmldsig
from stratuslab.services.marketplace.trust import SigningCredentials, TrustStore


def test_signed_entry_verifies_and_names_the_certificate(alice: Identity, trust: TrustStore) -> None:
    doc = signed(alice)
    verified = xmldsig.verify_document(doc, trust, now=NOW)
    who = verified.entry.endorsement.endorser
    assert verified.signature_method == "RSA-SHA256"
    assert who.email == "alice@example.org"
    assert who.subject == "CN=Alice Example,O=Test,DC=stratuslab,DC=eu"
    assert who.issuer == "CN=Test CA,DC=stratuslab,DC=eu"
    assert b"<ds:Signature" in doc


def test_pkcs12_credentials_sign_like_pem(alice: Identity, ca: Identity, trust: TrustStore) -> None:
    p12 = SigningCredentials.from_pkcs12(alice.p12("secret", ca), "secret")
    doc = xmldsig.sign_document(unsigned(), p12, now=NOW)
    assert xmldsig.verify_document(doc, trust, now=NOW).entry.email == "alice@example.org"


def test_wrong_pkcs12_password_is_reported(alice: Identity) -> None:
    with pytest.raises(InvalidMetadata, match="PKCS#12"):
        SigningCredentials.from_pkcs12(alice.p12("secret"), "wrong")


def test_tampered_metadata_is_refused(alice: Identity, trust: TrustStore) -> None:
    doc = signed(alice).replace(b"Tiny Debian", b"Evil Debian")
    with pytest.raises(SignatureInvalid, match="signature does not match the document"):
        xmldsig.verify_document(doc, trust, now=NOW)


def test_unsigned_metadata_is_refused(trust: TrustStore) -> None:
    with pytest.raises(SignatureInvalid, match="no signature"):
        xmldsig.verify_document(unsigned(), trust, now=NOW)


def test_signer_subject_differing_from_endorser_is_refused(
    alice: Identity, bob: Identity, trust: TrustStore
) -> None:
    # The endorsement names Alice, but Bob (a valid certificate of the same CA) signs it.
    doc = xmlsec_sign(endorse(unsigned(), alice, email="alice@example.org"), bob)
    with pytest.raises(SignatureInvalid, match="endorser inconsistency .subject"):
        xmldsig.verify_document(doc, trust, now=NOW)


def test_endorser_email_not_in_certificate_is_refused(alice: Identity, trust: TrustStore) -> None:
    doc = xmlsec_sign(endorse(unsigned(), alice, email="mallory@example.org"), alice)
    with pytest.raises(SignatureInvalid, match="endorser inconsistency .email"):
        xmldsig.verify_document(doc, trust, now=NOW)


def test_certificate_from_untrusted_ca_is_refused(other_ca: Identity, trust: TrustStore) -> None:
    rogue = make_endorser(other_ca, "Alice Example", "alice@example.org", key_index=1)
    doc = signed(rogue)
    with pytest.raises(SignatureInvalid, match="not a trusted CA"):
        xmldsig.verify_document(doc, trust, now=NOW)


def test_expired_signing_certificate_is_refused(alice: Identity, trust: TrustStore) -> None:
    doc = signed(alice)
    with pytest.raises(SignatureInvalid, match="expired on"):
        xmldsig.verify_document(doc, trust, now=NOW + timedelta(days=400))


def test_original_stratuslab_signature_style_verifies(alice: Identity, trust: TrustStore) -> None:
    def add_comment(root: etree._Element) -> None:
        root.insert(0, etree.Comment(" signed by the original Java signer "))

    raw = endorse(unsigned(), alice, email="alice@example.org")
    doc = xmlsec_sign(raw, alice, legacy=True, mutate=add_comment)
    assert b'<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">' in doc
    assert b"xml-c14n-20010315#WithComments" in doc and b"xmldsig#rsa-sha1" in doc
    verified = xmldsig.verify_document(doc, trust, now=NOW)
    assert verified.signature_method == "RSA-SHA1"
    with pytest.raises(SignatureInvalid):
        xmldsig.verify_document(doc.replace(b"Tiny Debian", b"Tiny Debiam"), trust, now=NOW)


def test_comment_injected_into_a_value_does_not_truncate_it(alice: Identity, trust: TrustStore) -> None:
    # A same-document reference (URI="") excludes comments, so the signature still verifies;
    # what we read must then be the whole signed text, not the part before the comment.
    doc = signed(alice).replace(b"<slreq:email>alice@example.org", b"<slreq:email>alice@<!---->example.org")
    assert xmldsig.verify_document(doc, trust, now=NOW).entry.email == "alice@example.org"


def test_signature_covering_part_of_the_document_is_refused(alice: Identity, trust: TrustStore) -> None:
    doc = signed(alice).replace(b'URI=""', b'URI="#x"')
    with pytest.raises(SignatureInvalid, match="whole document"):
        xmldsig.verify_document(doc, trust, now=NOW)


def test_ca_directory_in_grid_hashed_layout_is_trusted(
    ca: Identity, alice: Identity, tmp_path: Path
) -> None:
    (tmp_path / "3f2a1b4c.0").write_bytes(ca.cert_pem)
    (tmp_path / "3f2a1b4c.signing_policy").write_text("access_id_CA X509 '/DC=eu/CN=Test CA'\n")
    (tmp_path / "3f2a1b4c.r0").write_text("-----BEGIN X509 CRL-----\n")
    store = TrustStore.from_directory(tmp_path)
    assert store.sources == ("3f2a1b4c.0",)
    assert xmldsig.verify_document(signed(alice), store, now=NOW).entry.email == "alice@example.org"


def test_ca_directory_of_plain_pem_files_is_trusted(
    ca: Identity, alice: Identity, tmp_path: Path
) -> None:
    (tmp_path / "test-ca.pem").write_bytes(ca.cert_pem)
    store = TrustStore.from_directory(tmp_path)
    assert xmldsig.verify_document(signed(alice), store, now=NOW)


def test_missing_ca_directory_says_which_setting(tmp_path: Path) -> None:
    with pytest.raises(InvalidMetadata, match="ca_dir"):
        TrustStore.from_directory(tmp_path / "nope")


def test_signing_with_certificate_without_email_needs_email(ca: Identity) -> None:
    anonymous = make_endorser(ca, "No Mail", None, key_index=3)
    with pytest.raises(InvalidMetadata, match="carries no email"):
        xmldsig.sign_document(unsigned(), creds(anonymous), now=NOW)


def test_deprecating_then_resigning_keeps_a_valid_document(alice: Identity, trust: TrustStore) -> None:
    doc = xmldsig.mark_deprecated(signed(alice), "superseded by a newer build")
    again = xmldsig.sign_document(doc, creds(alice), now=NOW + timedelta(seconds=5))
    entry = xmldsig.verify_document(again, trust, now=NOW).entry
    assert entry.deprecated == "superseded by a newer build"
    assert entry.created == NOW + timedelta(seconds=5)
    assert rdf.parse_entry(again).deprecated == "superseded by a newer build"


def test_hashed_system_ca_dir_layout_can_be_copied(ca: Identity, tmp_path: Path) -> None:
    src = tmp_path / "a"
    src.mkdir()
    (src / "ca.crt").write_bytes(ca.cert_pem)
    shutil.copytree(src, tmp_path / "b")
    assert len(TrustStore.from_directory(tmp_path / "b").cas) == 1


def test_intermediate_ca_travels_in_the_signature_and_chains_to_the_root(
    ca: Identity, trust: TrustStore
) -> None:
    from tests.helpers.pki import make_intermediate

    sub = make_intermediate(ca)
    carol = make_endorser(sub, "Carol Example", "carol@example.org", key_index=3)
    chain_creds = SigningCredentials.from_pem(carol.key_pem, carol.cert_pem + sub.cert_pem)
    doc = xmldsig.sign_document(unsigned(email="carol@example.org"), chain_creds, now=NOW)
    assert doc.count(b"X509Certificate>") == 4  # two certificates, open and close tags
    verified = xmldsig.verify_document(doc, trust, now=NOW)
    assert [c.subject for c in verified.chain] == [carol.cert.subject, sub.cert.subject, ca.cert.subject]
    # without the intermediate the root alone cannot link the signer
    alone = xmldsig.sign_document(unsigned(email="carol@example.org"), creds(carol), now=NOW)
    with pytest.raises(SignatureInvalid, match="not a trusted CA"):
        xmldsig.verify_document(alone, trust, now=NOW)
