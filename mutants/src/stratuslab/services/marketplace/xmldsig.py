"""Enveloped XML-DSig of metadata documents: signing and verification with python-xmlsec.

New signatures: `ds:`-prefixed Signature, exclusive C14N, RSA-SHA256, SHA-256 digest.  Legacy
signatures of the original Java signer (default-namespace Signature, inclusive C14N with comments,
RSA-SHA1, SHA-1 digest) verify too — libxmlsec canonicalizes them correctly where signxml does not.
Verification insists on one Signature, child of the root, whose only Reference covers the whole
document (URI "") with the enveloped transform, so no part of what we parse is left unsigned.
Imports core, lxml, xmlsec and cryptography; never drivers, persistence or api.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from stratuslab.core.marketplace import (
    Endorsement,
    Endorser,
    InvalidMetadata,
    MetadataEntry,
    SignatureInvalid,
)
from stratuslab.services.marketplace import rdf
from stratuslab.services.marketplace.trust import (
    SigningCredentials,
    TrustStore,
    certificate_emails,
    check_endorser,
    dn,
)

DS = rdf.DS
_ALLOWED_TRANSFORMS = {
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
}
_SIGNATURE_METHODS = {
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1": "RSA-SHA1",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": "RSA-SHA256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": "RSA-SHA512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": "ECDSA-SHA256",
}


@dataclass(frozen=True)
class VerifiedEntry:
    entry: MetadataEntry
    signer: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    signature_method: str


def _q(name: str) -> str:
    return f"{{{DS}}}{name}"


def sign_document(
    raw: bytes,
    credentials: SigningCredentials,
    *,
    now: datetime,
    email: str | None = None,
    legacy: bool = False,
) -> bytes:
    """Fill the endorsement from the certificate and append an enveloped signature.

    `legacy=True` writes the original StratusLab style (default namespace, C14N with comments,
    RSA-SHA1): for interoperability tests and old verifiers only.
    """
    tree = rdf.parse_xml(raw)
    root = tree.getroot()
    for old in list(root.iter(_q("Signature"))):
        parent = old.getparent()
        if parent is not None:
            parent.remove(old)
    desc = rdf.description_of(root)
    signer_email = _signer_email(credentials.cert, email)
    endorser = Endorser(signer_email, dn(credentials.cert.subject), dn(credentials.cert.issuer))
    rdf.set_endorsement(desc, Endorsement(now.replace(microsecond=0), endorser))
    rdf.entry_from_tree(tree)  # refuse to sign something the marketplace would reject
    if legacy:
        c14n, method, digest, prefix = (
            xmlsec.constants.TransformInclC14NWithComments,
            xmlsec.constants.TransformRsaSha1,
            xmlsec.constants.TransformSha1,
            None,
        )
    else:
        c14n, method, digest, prefix = (
            xmlsec.constants.TransformExclC14N,
            xmlsec.constants.TransformRsaSha256,
            xmlsec.constants.TransformSha256,
            "ds",
        )
    sig = xmlsec.template.create(root, c14n, method, ns=prefix)
    root.append(sig)
    ref = xmlsec.template.add_reference(sig, digest, uri="")
    xmlsec.template.add_transform(ref, xmlsec.constants.TransformEnveloped)
    xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(sig))
    ctx = xmlsec.SignatureContext()
    try:
        key = xmlsec.Key.from_memory(credentials.key_pem, xmlsec.constants.KeyDataFormatPem)
        key.load_cert_from_memory(credentials.cert_pem, xmlsec.constants.KeyDataFormatCertPem)
        for extra in credentials.chain:  # intermediates travel with the signature
            if extra.subject != extra.issuer:
                pem = extra.public_bytes(serialization.Encoding.PEM)
                key.load_cert_from_memory(pem, xmlsec.constants.KeyDataFormatCertPem)
        ctx.key = key
        ctx.sign(sig)
    except xmlsec.Error as exc:
        raise InvalidMetadata(f"signing failed ({exc})", hint="check the key matches the certificate") from exc
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")  # type: ignore[no-any-return]


def _signer_email(cert: x509.Certificate, wanted: str | None) -> str:
    emails = certificate_emails(cert)
    if wanted and (not emails or wanted.lower() in (e.lower() for e in emails)):
        return wanted
    if emails and not wanted:
        return emails[0]
    if emails:
        raise InvalidMetadata(
            f"email {wanted} is not in the signing certificate ({', '.join(emails)})",
            hint="leave --email out, or sign with a certificate that carries that address",
        )
    raise InvalidMetadata(
        f"certificate {dn(cert.subject)!r} carries no email address", hint="give --email"
    )


def verify_document(
    raw: bytes, trust: TrustStore, *, now: datetime, require_email: bool = True
) -> VerifiedEntry:
    """Verify signature, chain and endorser; return the parsed entry of the signed document."""
    tree = rdf.parse_xml(raw)
    root = tree.getroot()
    sig = _the_signature(root)
    method = _check_signed_info(sig)
    certs = _embedded_certificates(sig)
    leaf = _leaf_of(certs)
    chain = trust.verify_chain(leaf, certs, now)
    ctx = xmlsec.SignatureContext()
    try:
        ctx.key = xmlsec.Key.from_memory(
            leaf.public_bytes(serialization.Encoding.PEM), xmlsec.constants.KeyDataFormatCertPem
        )
        ctx.verify(sig)
    except xmlsec.Error as exc:
        raise SignatureInvalid(
            "signature does not match the document (modified after signing, or signed with "
            f"another key) ({exc})"
        ) from exc
    entry = rdf.entry_from_tree(tree)
    check_endorser(entry.endorsement.endorser, leaf, require_email=require_email)
    return VerifiedEntry(entry, leaf, tuple(chain), method)


def embedded_signer(raw: bytes) -> x509.Certificate:
    """The signer's certificate carried in the document's signature (not yet trusted)."""
    return _leaf_of(_embedded_certificates(_the_signature(rdf.parse_xml(raw).getroot())))


def mark_deprecated(raw: bytes, reason: str) -> bytes:
    """The document without its signature and with slterms:deprecated set (sign it again next)."""
    tree = rdf.parse_xml(raw)
    root = tree.getroot()
    for old in list(root.iter(_q("Signature"))):
        parent = old.getparent()
        if parent is not None:
            parent.remove(old)
    rdf.set_deprecated(rdf.description_of(root), reason)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")  # type: ignore[no-any-return]


def _the_signature(root: etree._Element) -> etree._Element:
    sigs = list(root.iter(_q("Signature")))
    if not sigs:
        raise SignatureInvalid("no signature", hint="sign it first: stratus sign-metadata FILE ...")
    if len(sigs) > 1 or sigs[0].getparent() is not root:
        raise SignatureInvalid("expected one Signature element, as the last child of rdf:RDF")
    return sigs[0]


def _check_signed_info(sig: etree._Element) -> str:
    refs = sig.findall(f"{_q('SignedInfo')}/{_q('Reference')}")
    if len(refs) != 1 or refs[0].get("URI") != "":
        raise SignatureInvalid('the signature must have one Reference with URI="" (whole document)')
    algs = [t.get("Algorithm", "") for t in refs[0].iter(_q("Transform"))]
    if not algs or algs[0] != "http://www.w3.org/2000/09/xmldsig#enveloped-signature":
        raise SignatureInvalid("the signature must be enveloped (first transform enveloped-signature)")
    for alg in algs:
        if alg not in _ALLOWED_TRANSFORMS:
            raise SignatureInvalid(f"transform {alg} is not accepted")
    method = sig.find(f"{_q('SignedInfo')}/{_q('SignatureMethod')}")
    name = _SIGNATURE_METHODS.get(method.get("Algorithm", "") if method is not None else "")
    if name is None:
        raise SignatureInvalid("signature method is not RSA-SHA1/SHA256/SHA512 or ECDSA-SHA256")
    return name


def _embedded_certificates(sig: etree._Element) -> list[x509.Certificate]:
    certs = []
    for el in sig.iter(_q("X509Certificate")):
        try:
            der = base64.b64decode("".join((el.text or "").split()), validate=True)
            certs.append(x509.load_der_x509_certificate(der))
        except (binascii.Error, ValueError) as exc:
            raise SignatureInvalid(f"embedded X509Certificate is unreadable ({exc})") from exc
    if not certs:
        raise SignatureInvalid("the signature carries no X509Certificate of its signer")
    return certs


def _leaf_of(certs: list[x509.Certificate]) -> x509.Certificate:
    """The certificate that issued none of the others (the signer's)."""
    for cert in certs:
        if not any(other.issuer == cert.subject and other is not cert for other in certs):
            return cert
    return certs[0]
