"""Marketplace metadata documents for tests: unsigned and signed entries, endorsements, a
signature made by the xmlsec library (an independent implementation), signing credentials."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import xmlsec
from lxml import etree
from tests.helpers.pki import Identity

from stratuslab.services.marketplace import build, rdf, xmldsig
from stratuslab.services.marketplace.trust import SigningCredentials

NOW = datetime.now(UTC).replace(microsecond=0)


def creds(who: Identity) -> SigningCredentials:
    return SigningCredentials.from_pem(who.key_pem, who.cert_pem)


def unsigned(image: bytes = b"tiny image bytes", *, email: str = "alice@example.org",
             now: datetime = NOW, **fields: Any) -> bytes:
    size, checksums = build.digest_stream(io.BytesIO(image))
    fields.setdefault("os", "debian")
    fields.setdefault("os_version", "12")
    fields.setdefault("arch", "x86_64")
    fields.setdefault("title", "Tiny Debian")
    fields.setdefault("locations", ("http://127.0.0.1:1/tiny.img",))
    entry = build.new_entry(size, checksums, email=email, now=now, **fields)
    return rdf.build_document(entry)


def signed(who: Identity, image: bytes = b"tiny image bytes", *, when: datetime = NOW,
           **fields: Any) -> bytes:
    return xmldsig.sign_document(unsigned(image, **fields), creds(who), now=when)


def xmlsec_sign(raw: bytes, who: Identity, *, legacy: bool = False,
                mutate: Callable[[etree._Element], None] | None = None) -> bytes:
    """Sign `raw` exactly as it is (no endorsement fill-in), like a foreign signer would.

    `legacy=True` reproduces the original Java signer: default-namespace <Signature>, inclusive
    C14N with comments, RSA-SHA1 and SHA-1 digest.
    """
    root = etree.fromstring(raw)
    if mutate is not None:
        mutate(root)
    if legacy:
        sig = xmlsec.template.create(root, xmlsec.constants.TransformInclC14NWithComments,
                                     xmlsec.constants.TransformRsaSha1)
        digest = xmlsec.constants.TransformSha1
    else:
        sig = xmlsec.template.create(root, xmlsec.constants.TransformExclC14N,
                                     xmlsec.constants.TransformRsaSha256, ns="ds")
        digest = xmlsec.constants.TransformSha256
    root.append(sig)
    ref = xmlsec.template.add_reference(sig, digest, uri="")
    xmlsec.template.add_transform(ref, xmlsec.constants.TransformEnveloped)
    xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(sig))
    ctx = xmlsec.SignatureContext()
    key = xmlsec.Key.from_memory(who.key_pem, xmlsec.constants.KeyDataFormatPem)
    key.load_cert_from_memory(who.cert_pem, xmlsec.constants.KeyDataFormatCertPem)
    ctx.key = key
    ctx.sign(sig)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def endorse(raw: bytes, who: Identity, *, email: str, when: datetime = NOW) -> bytes:
    """Fill the endorsement with `who`'s certificate names (what the Java signer did)."""
    from stratuslab.core.marketplace import Endorsement, Endorser
    from stratuslab.services.marketplace.trust import dn

    tree = rdf.parse_xml(raw)
    desc = rdf.description_of(tree.getroot())
    rdf.set_endorsement(desc, Endorsement(when, Endorser(email, dn(who.cert.subject),
                                                         dn(who.cert.issuer))))
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def later(seconds: int) -> datetime:
    return NOW + timedelta(seconds=seconds)
