"""Proxy-chain rules (services/auth/x509/proxy.py) one at a time, on small EC chains: the three
proxy kinds recognised, the proxy path length (RFC 3820 and GSI-3 draft order), independent and
limited proxies, the naming rule, the issuer's signature and key usage, chains of proxies only,
and what a verified chain reports.  The ProxyCertInfo structures are written out here from
RFC 3820 and the GSI-3 draft, not taken from the product."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyasn1.codec.der import encoder
from pyasn1.type import namedtype, univ
from tests.helpers.pki import EcCert, ec_cert

from stratuslab.core.errors import AuthenticationFailed
from stratuslab.services.auth.x509.proxy import ProxyKind, proxy_info, verify_chain
from stratuslab.services.auth.x509.trust import TrustStore

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
START, END = NOW - timedelta(days=1), NOW + timedelta(days=30)
USER = "/DC=eu/DC=lab/O=People/CN=Ann"
RFC3820, GSI3 = "1.3.6.1.5.5.7.1.14", "1.3.6.1.4.1.3536.1.222"
INHERIT_ALL, INDEPENDENT, LIMITED = ("1.3.6.1.5.5.7.21.1", "1.3.6.1.5.5.7.21.2",
                                     "1.3.6.1.4.1.3536.1.1.1.9")


class Policy(univ.Sequence):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("policyLanguage", univ.ObjectIdentifier()))


def cert_info(language: str, path_len: int | None, *, draft: bool) -> bytes:
    """ProxyCertInfo: RFC 3820 puts pathLenConstraint first, the GSI-3 draft last."""
    policy = Policy()
    policy["policyLanguage"] = univ.ObjectIdentifier(language)
    fields = [namedtype.NamedType("proxyPolicy", Policy())]
    limit = [namedtype.OptionalNamedType("pathLenConstraint", univ.Integer())]
    spec = type("Info", (univ.Sequence,), {"componentType": namedtype.NamedTypes(
        *(fields + limit if draft else limit + fields))})
    info = spec()
    info["proxyPolicy"] = policy
    if path_len is not None:
        info["pathLenConstraint"] = path_len
    return encoder.encode(info)  # type: ignore[no-any-return]


def proxy(issuer: EcCert, *, cn: str = "12345", kind: str = "rfc3820",
          language: str = INHERIT_ALL, path_len: int | None = None, cert_sign: bool = False,
          signer: EcCert | None = None, subject: x509.Name | None = None,
          start: datetime = START, end: datetime = END) -> EcCert:
    key = ec.generate_private_key(ec.SECP256R1())
    name = subject or x509.Name([*issuer.cert.subject,
                                 x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer.cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.KeyUsage(True, False, True, False, False, cert_sign, False,
                                            False, False), critical=True))
    if kind != "legacy":
        oid = x509.ObjectIdentifier(RFC3820 if kind == "rfc3820" else GSI3)
        builder = builder.add_extension(x509.UnrecognizedExtension(
            oid, cert_info(language, path_len, draft=kind == "gsi3")), critical=True)
    return EcCert(builder.sign((signer or issuer).key, hashes.SHA256()), key)


@pytest.fixture(scope="module")
def root() -> EcCert:
    return ec_cert("/DC=eu/DC=lab/CN=Root CA", ca=True, start=START, end=END)


@pytest.fixture(scope="module")
def ann(root: EcCert) -> EcCert:
    return ec_cert(USER, root, start=START, end=END)


def store(root: EcCert) -> TrustStore:
    return TrustStore((root.cert,))


def refused(chain: list[EcCert], root: EcCert) -> tuple[str, str]:
    with pytest.raises(AuthenticationFailed) as exc:
        verify_chain([c.cert for c in chain], store(root), NOW)
    return exc.value.message, exc.value.hint


# --- what a proxy is ---------------------------------------------------------------------------

def test_the_three_proxy_kinds_are_recognised_with_their_limits(ann: EcCert) -> None:
    rfc = proxy_info(proxy(ann, path_len=2).cert)
    assert (rfc.kind, rfc.path_len, rfc.language, rfc.limited) == (  # type: ignore[union-attr]
        ProxyKind.RFC3820, 2, INHERIT_ALL, False)
    gsi = proxy_info(proxy(ann, kind="gsi3", path_len=0, language=LIMITED).cert)
    assert (gsi.kind, gsi.path_len, gsi.limited) == (ProxyKind.GSI3, 0, True)  # type: ignore[union-attr]
    legacy = proxy_info(proxy(ann, kind="legacy", cn="proxy").cert)
    assert (legacy.kind, legacy.path_len, legacy.limited) == (  # type: ignore[union-attr]
        ProxyKind.LEGACY, None, False)
    assert proxy_info(proxy(ann, kind="legacy", cn="limited proxy").cert).limited  # type: ignore[union-attr]
    assert proxy_info(proxy(ann).cert).path_len is None  # type: ignore[union-attr]


def test_ordinary_certificates_are_no_proxies(root: EcCert, ann: EcCert) -> None:
    assert proxy_info(ann.cert) is None
    assert proxy_info(root.cert) is None
    assert proxy_info(proxy(ann, kind="legacy", cn="Proxy").cert) is None  # spelled otherwise
    other = x509.Name([*root.cert.subject, x509.NameAttribute(NameOID.COMMON_NAME, "proxy")])
    assert proxy_info(proxy(ann, kind="legacy", subject=other).cert) is None  # not ann's name
    two = x509.Name([*ann.cert.subject, x509.NameAttribute(NameOID.COMMON_NAME, "proxy"),
                     x509.NameAttribute(NameOID.COMMON_NAME, "proxy")])
    assert proxy_info(proxy(ann, kind="legacy", subject=two).cert) is None


def test_an_unreadable_proxy_cert_info_is_refused(ann: EcCert) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([*ann.cert.subject, x509.NameAttribute(NameOID.COMMON_NAME, "1")])
    bad = (x509.CertificateBuilder().subject_name(name).issuer_name(ann.cert.subject)
           .public_key(key.public_key()).serial_number(1).not_valid_before(START)
           .not_valid_after(END).add_extension(x509.UnrecognizedExtension(
               x509.ObjectIdentifier(RFC3820), b"\x30\x03\x02\x01"), critical=True)
           .sign(ann.key, hashes.SHA256()))
    with pytest.raises(AuthenticationFailed) as exc:
        proxy_info(bad)
    assert (exc.value.message, exc.value.hint) == (
        f"certificate {USER}/CN=1 has an unreadable ProxyCertInfo", "make a new proxy")


# --- verified chains ----------------------------------------------------------------------------

def test_a_chain_reports_identity_proxies_path_and_limitation(root: EcCert, ann: EcCert) -> None:
    first = proxy(ann)
    second = proxy(first, language=LIMITED, cn="67890")
    verified = verify_chain([second.cert, first.cert, ann.cert], store(root), NOW)
    assert verified.identity == USER and verified.eec == ann.cert
    assert verified.proxies == (second.cert, first.cert)
    assert verified.path == (ann.cert, root.cert)
    assert verified.limited and verified.kind == "proxy"
    plain = verify_chain([ann.cert], store(root), NOW)
    assert (plain.proxies, plain.limited, plain.kind) == ((), False, "x509")
    assert not verify_chain([first.cert, ann.cert], store(root), NOW).limited


def test_empty_chains_and_chains_of_proxies_only_are_refused(root: EcCert, ann: EcCert) -> None:
    with pytest.raises(AuthenticationFailed) as none:
        verify_chain([], store(root), NOW)
    assert (none.value.message, none.value.hint) == (
        "no client certificate was sent", "connect with a certificate or proxy")
    assert refused([proxy(ann)], root) == (
        "the client certificate chain holds only proxies",
        "send the end-entity certificate with the proxy (the proxy file holds both)")


@pytest.mark.parametrize("limits,accepted", [  # pathLenConstraint: proxies allowed below it
    ((None, None, None), True),
    ((0,), True),
    ((0, None), False),
    ((1, None), True),
    ((1, None, None), False),
    ((None, 0), True),
    ((None, 0, None), False),
    ((2, None, None), True),
    ((2, None, None, None), False),
    ((2, 0, None), False),  # the smaller limit wins
    ((0, 5), False),
    ((1, 5, None), False),
])
def test_the_proxy_path_length_bounds_the_proxies_below(root: EcCert, ann: EcCert,
                                                        limits: tuple[int | None, ...],
                                                        accepted: bool) -> None:
    chain, issuer = [], ann
    for depth, limit in enumerate(limits):  # from the EEC outwards
        issuer = proxy(issuer, path_len=limit, cn=str(depth + 1),
                       kind="gsi3" if depth % 2 else "rfc3820")
        chain.insert(0, issuer)
    full = [*chain, ann]
    if accepted:
        assert len(verify_chain([c.cert for c in full], store(root), NOW).proxies) == len(limits)
        return
    message, hint = refused(full, root)
    assert message.startswith(f"certificate {USER}/CN=1/")  # a proxy below the limit
    assert message.endswith(" exceeds the proxy path length its issuer allows")
    assert hint == "delegate from a proxy that allows further delegation"


# --- what each proxy must be --------------------------------------------------------------------

def test_an_independent_proxy_carries_no_identity(root: EcCert, ann: EcCert) -> None:
    assert refused([proxy(ann, language=INDEPENDENT), ann], root) == (
        f"certificate {USER}/CN=12345 is an independent proxy, which carries no identity",
        "make an impersonation proxy (grid-proxy-init -rfc)")


def test_a_proxy_must_be_named_after_its_issuer_plus_one_cn(root: EcCert, ann: EcCert) -> None:
    wrong = "is not named after its issuer " + USER + " plus one CN"
    hint = "make a new proxy from your own certificate"
    other = x509.Name([*root.cert.subject, x509.NameAttribute(NameOID.COMMON_NAME, "9")])
    assert refused([proxy(ann, subject=other), ann], root) == (
        f"certificate /DC=eu/DC=lab/CN=Root CA/CN=9 {wrong}", hint)
    as_org = x509.Name([*ann.cert.subject, x509.NameAttribute(NameOID.ORGANIZATION_NAME, "9")])
    assert refused([proxy(ann, subject=as_org), ann], root) == (
        f"certificate {USER}/O=9 {wrong}", hint)
    two = x509.Name([*ann.cert.subject.rdns, x509.RelativeDistinguishedName([
        x509.NameAttribute(NameOID.COMMON_NAME, "9"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "9")])])
    assert refused([proxy(ann, subject=two), ann], root)[0].endswith(wrong)


def test_a_proxy_must_be_signed_by_its_issuers_key(root: EcCert, ann: EcCert) -> None:
    forged = proxy(ann, signer=ec_cert("/DC=x/CN=Mallory", start=START, end=END))
    assert refused([forged, ann], root) == (
        f"certificate {USER}/CN=12345 is not signed by the key of {USER}",
        "make a new proxy from your own certificate and key")


def test_a_proxy_may_not_sign_certificates_nor_come_from_a_key_that_may_not_sign(
    root: EcCert,
) -> None:
    ann = ec_cert(USER, root, start=START, end=END)
    assert refused([proxy(ann, cert_sign=True), ann], root) == (
        f"certificate {USER}/CN=12345 claims to sign certificates", "make a new proxy")
    sealed = _without_digital_signature(root)
    assert refused([proxy(sealed), sealed], root) == (
        f"certificate {USER} may not sign proxies (no digitalSignature key usage)",
        "ask your CA for a certificate usable for proxies")


def _without_digital_signature(root: EcCert) -> EcCert:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(ann_name()).issuer_name(root.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(START).not_valid_after(END)
            .add_extension(x509.KeyUsage(False, False, True, False, False, False, False, False,
                                         False), critical=True)
            .sign(root.key, hashes.SHA256()))
    return EcCert(cert, key)


def ann_name() -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "eu"),
                      x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "lab"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "People"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Ann")])


def test_every_proxy_is_checked_for_its_window(root: EcCert, ann: EcCert) -> None:
    expired = proxy(ann, end=NOW - timedelta(seconds=1))
    message, hint = refused([expired, ann], root)
    assert message.startswith(f"certificate {USER}/CN=12345 expired at ")
    assert hint == "renew the certificate (or make a new proxy)"


def test_the_certificates_after_the_eec_serve_as_its_intermediates(root: EcCert) -> None:
    sub = ec_cert("/DC=eu/DC=lab/CN=Sub CA", root, ca=True, start=START, end=END)
    bob = ec_cert("/DC=eu/DC=lab/CN=Bob", sub, start=START, end=END)
    first = proxy(bob)
    verified = verify_chain([first.cert, bob.cert, sub.cert], store(root), NOW)
    assert verified.path == (bob.cert, sub.cert, root.cert)
    assert verified.identity == "/DC=eu/DC=lab/CN=Bob"
