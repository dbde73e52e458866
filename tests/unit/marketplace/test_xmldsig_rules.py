"""XML-DSig rules of the marketplace (services/marketplace/xmldsig.py), each with the whole
message an uploader reads: what a verification returns, the signer's email chosen at signing,
re-signing, intermediates carried (never the root), certificates in any order, and every
structural refusal."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from lxml import etree
from tests.helpers.marketdocs import NOW, creds, signed, unsigned
from tests.helpers.pki import Identity, make_endorser, make_intermediate

from stratuslab.core.marketplace import InvalidMetadata, SignatureInvalid
from stratuslab.services.marketplace import rdf, xmldsig
from stratuslab.services.marketplace.trust import SigningCredentials, TrustStore

DSIG = "{http://www.w3.org/2000/09/xmldsig#}"
BAD = "invalid metadata: "  # every marketplace refusal starts so


def tree(raw: bytes) -> etree._Element:
    return etree.fromstring(raw)


def text(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def signature(root: etree._Element) -> etree._Element:
    [sig] = root.findall(f"{DSIG}Signature")
    return sig


def refusal(raw: bytes, trust: TrustStore) -> tuple[str, str]:
    with pytest.raises(SignatureInvalid) as exc:
        xmldsig.verify_document(raw, trust, now=NOW)
    return exc.value.message, exc.value.hint


# --- what a verification returns ----------------------------------------------------------------

def test_a_verified_document_names_signer_chain_method_and_entry(
    alice: Identity, ca: Identity, trust: TrustStore
) -> None:
    verified = xmldsig.verify_document(signed(alice), trust, now=NOW)
    assert verified.signer == alice.cert
    assert verified.chain == (alice.cert, ca.cert)
    assert verified.signature_method == "RSA-SHA256"
    assert verified.entry.email == "alice@example.org"
    legacy = xmldsig.sign_document(unsigned(), creds(alice), now=NOW, legacy=True)
    assert xmldsig.verify_document(legacy, trust, now=NOW).signature_method == "RSA-SHA1"
    assert b"<ds:Signature" in signed(alice) and b"<ds:Signature" not in legacy


def test_signing_again_replaces_the_old_signature(alice: Identity, trust: TrustStore) -> None:
    again = xmldsig.sign_document(signed(alice), creds(alice), now=NOW + timedelta(seconds=5))
    assert len(tree(again).findall(f".//{DSIG}Signature")) == 1
    verified = xmldsig.verify_document(again, trust, now=NOW + timedelta(seconds=5))
    assert verified.entry.created == NOW + timedelta(seconds=5)


def test_deprecating_strips_every_signature_and_marks_the_entry(alice: Identity) -> None:
    root = tree(signed(alice))
    root[0].append(copy.deepcopy(signature(root)))  # a second, nested one goes too
    marked = xmldsig.mark_deprecated(text(root), "broken")
    assert tree(marked).findall(f".//{DSIG}Signature") == []
    assert rdf.entry_from_tree(rdf.parse_xml(marked)).deprecated == "broken"


# --- the signer's email -------------------------------------------------------------------------

def test_the_endorsement_email_comes_from_the_certificate_unless_given(
    ca: Identity, alice: Identity
) -> None:
    def email(who: Identity, wanted: str | None) -> str:
        raw = xmldsig.sign_document(unsigned(), creds(who), now=NOW, email=wanted)
        return rdf.entry_from_tree(rdf.parse_xml(raw)).email

    assert email(alice, None) == "alice@example.org"
    assert email(alice, "ALICE@example.org") == "ALICE@example.org"  # case does not matter
    with pytest.raises(InvalidMetadata) as other:
        email(alice, "eve@example.org")
    assert (other.value.message, other.value.hint) == (
        BAD + "email eve@example.org is not in the signing certificate (alice@example.org)",
        "leave --email out, or sign with a certificate that carries that address")
    bare = make_endorser(ca, "Bare Example", None, key_index=3)
    assert email(bare, "bare@example.org") == "bare@example.org"
    with pytest.raises(InvalidMetadata) as none:
        email(bare, None)
    assert (none.value.message, none.value.hint) == (
        BAD + "certificate 'CN=Bare Example,O=Test,DC=stratuslab,DC=eu' carries no email "
        "address", "give --email")


def test_an_unreadable_key_cannot_sign_and_a_foreign_key_signs_nothing_valid(
    alice: Identity, bob: Identity, trust: TrustStore
) -> None:
    with pytest.raises(InvalidMetadata) as exc:
        xmldsig.sign_document(unsigned(), SigningCredentials(b"not a key", alice.cert), now=NOW)
    assert exc.value.message.startswith(BAD + "signing failed (")
    assert exc.value.hint == "check the key matches the certificate"
    # xmlsec does not compare key and certificate when signing: the verifier catches it
    foreign = xmldsig.sign_document(unsigned(), SigningCredentials(bob.key_pem, alice.cert),
                                    now=NOW)
    assert refusal(foreign, trust)[0].startswith(BAD + "signature does not match the document")


# --- certificates carried by the signature ------------------------------------------------------

def test_intermediates_travel_with_the_signature_but_the_root_stays_home(
    ca: Identity, trust: TrustStore
) -> None:
    sub = make_intermediate(ca)
    carol = make_endorser(sub, "Carol Example", "carol@example.org", key_index=3)
    with_root = SigningCredentials.from_pem(carol.key_pem,
                                            carol.cert_pem + sub.cert_pem + ca.cert_pem)
    doc = xmldsig.sign_document(unsigned(email="carol@example.org"), with_root, now=NOW)
    assert len(tree(doc).findall(f".//{DSIG}X509Certificate")) == 2  # carol and sub
    assert xmldsig.embedded_signer(doc) == carol.cert
    verified = xmldsig.verify_document(doc, trust, now=NOW)
    assert verified.chain == (carol.cert, sub.cert, ca.cert)


def test_the_signer_is_found_whatever_the_order_of_the_certificates(
    ca: Identity, trust: TrustStore
) -> None:
    sub = make_intermediate(ca)
    carol = make_endorser(sub, "Carol Example", "carol@example.org", key_index=3)
    chained = SigningCredentials.from_pem(carol.key_pem, carol.cert_pem + sub.cert_pem)
    root = tree(xmldsig.sign_document(unsigned(email="carol@example.org"), chained, now=NOW))
    data = root.find(f".//{DSIG}X509Data")
    assert data is not None
    first, second = list(data)
    data.remove(first)
    data.append(first)  # now the intermediate comes first
    assert [e.text for e in data] == [second.text, first.text]
    assert xmldsig.embedded_signer(text(root)) == carol.cert
    assert xmldsig.verify_document(text(root), trust, now=NOW).signer == carol.cert


def test_unreadable_or_missing_certificates_are_refused(alice: Identity,
                                                        trust: TrustStore) -> None:
    root = tree(signed(alice))
    cert = root.find(f".//{DSIG}X509Certificate")
    assert cert is not None
    cert.text = "not base64 at all!"
    message, _ = refusal(text(root), trust)
    assert message.startswith(BAD + "embedded X509Certificate is unreadable (")
    cert.text = "AAAA"  # base64, not a certificate
    assert refusal(text(root), trust)[0].startswith(BAD + "embedded X509Certificate is "
                                                    "unreadable (")
    data = root.find(f".//{DSIG}X509Data")
    assert data is not None
    data.remove(cert)
    assert refusal(text(root), trust)[0] == (BAD + "the signature carries no X509Certificate "
                                             "of its signer")


# --- structure ----------------------------------------------------------------------------------

def test_structural_refusals_say_what_is_wrong(alice: Identity, trust: TrustStore) -> None:
    assert refusal(unsigned(), trust) == (BAD + "no signature",
                                          "sign it first: stratus sign-metadata FILE ...")
    one = BAD + "expected one Signature element, as the last child of rdf:RDF"
    root = tree(signed(alice))
    root.append(copy.deepcopy(signature(root)))
    assert refusal(text(root), trust)[0] == one
    root = tree(signed(alice))
    sig = signature(root)
    root.remove(sig)
    root[0].append(sig)
    assert refusal(text(root), trust)[0] == one

    whole = BAD + 'the signature must have one Reference with URI="" (whole document)'
    root = tree(signed(alice))
    ref = root.find(f".//{DSIG}Reference")
    assert ref is not None
    ref.getparent().append(copy.deepcopy(ref))  # type: ignore[union-attr]
    assert refusal(text(root), trust)[0] == whole
    root = tree(signed(alice))
    ref = root.find(f".//{DSIG}Reference")
    assert ref is not None
    del ref.attrib["URI"]
    assert refusal(text(root), trust)[0] == whole

    root = tree(signed(alice))
    transforms = root.find(f".//{DSIG}Transforms")
    assert transforms is not None
    for t in list(transforms):
        transforms.remove(t)
    assert refusal(text(root), trust)[0] == (
        BAD + "the signature must be enveloped (first transform enveloped-signature)")

    root = tree(signed(alice))
    method = root.find(f".//{DSIG}SignatureMethod")
    assert method is not None
    method.getparent().remove(method)  # type: ignore[union-attr]
    assert refusal(text(root), trust)[0] == (
        BAD + "signature method is not RSA-SHA1/SHA256/SHA512 or ECDSA-SHA256")


def test_every_allowed_transform_may_follow_the_enveloped_one(alice: Identity,
                                                              trust: TrustStore) -> None:
    for alg in ("http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
                "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
                "http://www.w3.org/2001/10/xml-exc-c14n#",
                "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"):
        root = tree(signed(alice))
        transforms = root.find(f".//{DSIG}Transforms")
        assert transforms is not None
        etree.SubElement(transforms, f"{DSIG}Transform", Algorithm=alg)
        # structure accepted: what fails now is the digest, which the extra transform changed
        message, _ = refusal(text(root), trust)
        assert message.startswith(BAD + "signature does not match the document (modified "
                                  "after signing, or signed with another key) ("), alg


def test_a_changed_document_no_longer_matches_its_signature(alice: Identity,
                                                            trust: TrustStore) -> None:
    raw = signed(alice).replace(b"Tiny Debian", b"Tiny Debjan")
    message, hint = refusal(raw, trust)
    assert message.startswith(BAD + "signature does not match the document (modified after "
                              "signing, or signed with another key) (")
    assert hint == ""
