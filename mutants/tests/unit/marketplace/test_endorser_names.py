"""Endorser names are compared as parsed names: the original Java signer wrote the subject of a
certificate that holds an email attribute in RFC 2253 form, the email as `OID=#<hex BER>`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from lxml import etree
from tests.helpers.marketdocs import NOW, unsigned, xmlsec_sign
from tests.helpers.pki import Identity

from stratuslab.core.marketplace import Endorsement, Endorser, SignatureInvalid
from stratuslab.services.marketplace import rdf, xmldsig
from stratuslab.services.marketplace.names import parse_dn, same_name
from stratuslab.services.marketplace.trust import TrustStore, dn

EMAIL = "carol@example.org"


@pytest.fixture(scope="module")
def carol(ca: Identity, alice: Identity) -> Identity:
    """An endorser whose subject ends with an emailAddress attribute (a common grid layout)."""
    name = x509.Name([
        x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "eu"),
        x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "stratuslab"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test"),
        x509.NameAttribute(NameOID.COMMON_NAME, "Carol Example"),
        x509.NameAttribute(NameOID.EMAIL_ADDRESS, EMAIL),
    ])  # fmt: skip
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca.cert.subject)
        .public_key(alice.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca.key, hashes.SHA256())
    )
    return Identity(alice.key, cert)


def java_rfc2253(name: x509.Name) -> str:
    """What X500Principal.getName() writes: RFC 2253 keywords, other attributes as OID=#hex."""
    keywords = {NameOID.COMMON_NAME: "CN", NameOID.ORGANIZATION_NAME: "O",
                NameOID.DOMAIN_COMPONENT: "DC"}  # fmt: skip
    parts = []
    for rdn in reversed(name.rdns):
        (attr,) = rdn
        if attr.oid in keywords:
            parts.append(f"{keywords[attr.oid]}={attr.value}")
        else:
            raw = str(attr.value).encode()
            parts.append(f"{attr.oid.dotted_string}=#{bytes([0x16, len(raw)]).hex()}{raw.hex()}")
    return ",".join(parts)


def endorsed_by(who: Identity, subject: str) -> bytes:
    tree = rdf.parse_xml(unsigned(email=EMAIL))
    desc = rdf.description_of(tree.getroot())
    rdf.set_endorsement(desc, Endorsement(NOW, Endorser(EMAIL, subject, dn(who.cert.issuer))))
    return xmlsec_sign(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"), who)


def test_java_signers_hex_email_attribute_matches_the_certificate(
    carol: Identity, trust: TrustStore
) -> None:
    subject = java_rfc2253(carol.cert.subject)
    assert "1.2.840.113549.1.9.1=#16" in subject
    verified = xmldsig.verify_document(endorsed_by(carol, subject), trust, now=NOW)
    assert verified is not None


def test_a_different_email_in_the_subject_is_still_an_inconsistency(
    carol: Identity, trust: TrustStore
) -> None:
    other = java_rfc2253(carol.cert.subject).replace(
        EMAIL.encode().hex(), b"mallory@example.org".hex()
    )
    other = other.replace("=#1611", f"=#16{len('mallory@example.org'):02x}")
    with pytest.raises(SignatureInvalid, match="endorser inconsistency .subject"):
        xmldsig.verify_document(endorsed_by(carol, other), trust, now=NOW)


def test_every_written_form_of_one_name_parses_to_the_same_pairs(carol: Identity) -> None:
    name = carol.cert.subject
    forms = [
        java_rfc2253(name),
        name.rfc4514_string(),
        "/DC=eu/DC=stratuslab/O=Test/CN=Carol Example/emailAddress=carol@example.org",
        "E=carol@example.org, CN=Carol  Example, O=Test, DC=stratuslab, DC=eu",
    ]
    for form in forms:
        assert same_name(form, name), form
    assert parse_dn("CN=A\\2C B,O=x")[-1] == ("2.5.4.3", "A, B")
    assert not same_name("CN=Carol Example,O=Test", name)  # missing attributes do not match
