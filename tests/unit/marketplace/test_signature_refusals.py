"""What a metadata signature must never get away with: each test builds one hostile or broken
document or certificate chain and names the refusal it expects (XML-DSig structure, algorithms,
validity periods, who may sign a certificate)."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from lxml import etree
from tests.helpers.marketdocs import NOW, signed, unsigned
from tests.helpers.pki import Identity, _key, make_endorser, make_intermediate

from stratuslab.core.marketplace import SignatureInvalid
from stratuslab.services.marketplace import xmldsig
from stratuslab.services.marketplace.trust import SigningCredentials, TrustStore

DSIG = "{http://www.w3.org/2000/09/xmldsig#}"


def _tree(raw: bytes) -> etree._Element:
    return etree.fromstring(raw)


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _signature(root: etree._Element) -> etree._Element:
    [sig] = root.findall(f"{DSIG}Signature")
    return sig


def test_two_signature_elements_are_refused(alice: Identity, trust: TrustStore) -> None:
    root = _tree(signed(alice))
    root.append(copy.deepcopy(_signature(root)))
    with pytest.raises(SignatureInvalid, match="expected one Signature element"):
        xmldsig.verify_document(_bytes(root), trust, now=NOW)


def test_a_signature_below_the_root_is_refused(alice: Identity, trust: TrustStore) -> None:
    root = _tree(signed(alice))
    sig = _signature(root)
    root.remove(sig)
    root[0].append(sig)  # moved into the first child: it no longer envelops the whole document
    with pytest.raises(SignatureInvalid, match="expected one Signature element, as the last "
                       "child of rdf:RDF"):
        xmldsig.verify_document(_bytes(root), trust, now=NOW)


@pytest.mark.parametrize("transform", [
    "http://www.w3.org/TR/1999/REC-xslt-19991116",
    "http://www.w3.org/TR/1999/REC-xpath-19991116",
    "http://www.w3.org/2002/06/xmldsig-filter2",
])
def test_transforms_outside_the_allowed_list_are_refused(alice: Identity, trust: TrustStore,
                                                          transform: str) -> None:
    root = _tree(signed(alice))
    transforms = _signature(root).find(f".//{DSIG}Transforms")
    assert transforms is not None  # after the enveloped-signature transform, one more
    etree.SubElement(transforms, f"{DSIG}Transform", Algorithm=transform)
    with pytest.raises(SignatureInvalid, match=f"transform {transform} is not accepted"):
        xmldsig.verify_document(_bytes(root), trust, now=NOW)


def test_a_signature_that_is_not_enveloped_first_is_refused(alice: Identity,
                                                             trust: TrustStore) -> None:
    root = _tree(signed(alice))
    transforms = _signature(root).find(f".//{DSIG}Transforms")
    assert transforms is not None
    transforms.remove(transforms[0])  # the enveloped-signature transform
    with pytest.raises(SignatureInvalid, match="must be enveloped"):
        xmldsig.verify_document(_bytes(root), trust, now=NOW)


@pytest.mark.parametrize("method", [
    "http://www.w3.org/2000/09/xmldsig#hmac-sha1",  # a shared secret instead of a certificate
    "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
    "",
])
def test_signature_methods_outside_the_allowed_list_are_refused(alice: Identity,
                                                                trust: TrustStore,
                                                                method: str) -> None:
    root = _tree(signed(alice))
    sm = _signature(root).find(f".//{DSIG}SignatureMethod")
    assert sm is not None
    sm.set("Algorithm", method)
    with pytest.raises(SignatureInvalid, match="signature method is not RSA-SHA1/SHA256/SHA512"):
        xmldsig.verify_document(_bytes(root), trust, now=NOW)


def test_a_reference_to_part_of_the_document_is_refused(alice: Identity,
                                                        trust: TrustStore) -> None:
    root = _tree(signed(alice))
    ref = _signature(root).find(f".//{DSIG}Reference")
    assert ref is not None
    ref.set("URI", "#someid")
    with pytest.raises(SignatureInvalid, match='one Reference with URI=""'):
        xmldsig.verify_document(_bytes(root), trust, now=NOW)


def test_a_signing_certificate_not_yet_valid_is_refused(alice: Identity,
                                                        trust: TrustStore) -> None:
    doc = signed(alice)
    with pytest.raises(SignatureInvalid, match=r"^invalid metadata: certificate '.*Alice "
                       r"Example.*' is not valid before "):
        xmldsig.verify_document(doc, trust, now=NOW - timedelta(days=3))


def _issued_by(issuer: Identity, cn: str, email: str, key_index: int) -> Identity:
    """An end-entity certificate signed with `issuer`'s key, whatever `issuer` may sign."""
    from cryptography.x509.oid import NameOID
    from tests.helpers.pki import _name

    key = _key(key_index)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name((NameOID.DOMAIN_COMPONENT, "eu"), (NameOID.COMMON_NAME, cn)))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
        .sign(issuer.key, hashes.SHA256())
    )
    return Identity(key, cert)


def test_an_end_entity_certificate_used_as_an_intermediate_is_refused(
    alice: Identity, trust: TrustStore
) -> None:
    mallory = _issued_by(alice, "Mallory", "mallory@example.org", key_index=5)
    creds = SigningCredentials.from_pem(mallory.key_pem, mallory.cert_pem + alice.cert_pem)
    doc = xmldsig.sign_document(unsigned(email="mallory@example.org"), creds, now=NOW)
    with pytest.raises(SignatureInvalid, match="issued by .*Alice Example.*not a trusted CA"):
        xmldsig.verify_document(doc, trust, now=NOW)


def test_a_chain_through_an_expired_intermediate_is_refused(ca: Identity,
                                                           trust: TrustStore) -> None:
    sub = make_intermediate(ca, "Short-lived Sub CA", key_index=4)
    carol = make_endorser(sub, "Carol Example", "carol@example.org", key_index=3)
    creds = SigningCredentials.from_pem(carol.key_pem, carol.cert_pem + sub.cert_pem)
    doc = xmldsig.sign_document(unsigned(email="carol@example.org"), creds, now=NOW)
    assert xmldsig.verify_document(doc, trust, now=NOW).signer == carol.cert
    # a year and a day later the intermediate (365 days) has expired, the endorser has too
    with pytest.raises(SignatureInvalid, match="expired"):
        xmldsig.verify_document(doc, trust, now=NOW + timedelta(days=366))
