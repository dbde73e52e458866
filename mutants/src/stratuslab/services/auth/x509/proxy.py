"""Client certificate chains with RFC 3820, GSI-3 draft and legacy (GT2) proxies.

`cryptography` has no proxy-aware path validation, so the proxy part of a chain is checked
here by hand: each proxy is within its validity window, named after its issuer plus exactly one
CN, signed by its issuer's key, within its issuer's path-length limit, and not a CA.  The first
non-proxy is the end-entity certificate (EEC), validated by trust.verify_end_entity.  The
identity is the EEC's DN in slash form.  Imports only `cryptography` and core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID
from pyasn1.codec.der import decoder
from pyasn1.type import namedtype, univ

from stratuslab.core.errors import AuthenticationFailed
from stratuslab.services.auth.x509.dn import slash_dn
from stratuslab.services.auth.x509.trust import (
    TrustStore,
    cert_failure,
    check_validity,
    verify_end_entity,
)

OID_PROXY_RFC3820 = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.14")
OID_PROXY_GSI3 = x509.ObjectIdentifier("1.3.6.1.4.1.3536.1.222")
PPL_INHERIT_ALL = "1.3.6.1.5.5.7.21.1"
PPL_INDEPENDENT = "1.3.6.1.5.5.7.21.2"
PPL_LIMITED = "1.3.6.1.4.1.3536.1.1.1.9"


class ProxyKind(StrEnum):
    RFC3820 = "rfc3820"
    GSI3 = "gsi3"
    LEGACY = "legacy"


class _ProxyPolicy(univ.Sequence):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("policyLanguage", univ.ObjectIdentifier()),
        namedtype.OptionalNamedType("policy", univ.OctetString()),
    )


class _ProxyCertInfo(univ.Sequence):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.OptionalNamedType("pathLenConstraint", univ.Integer()),
        namedtype.NamedType("proxyPolicy", _ProxyPolicy()),
    )


class _Gsi3ProxyCertInfo(univ.Sequence):  # type: ignore[misc]  # draft: policy first
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("proxyPolicy", _ProxyPolicy()),
        namedtype.OptionalNamedType("pathLenConstraint", univ.Integer()),
    )


@dataclass(frozen=True, slots=True)
class ProxyInfo:
    kind: ProxyKind
    path_len: int | None = None
    language: str = PPL_INHERIT_ALL

    @property
    def limited(self) -> bool:
        return self.language == PPL_LIMITED


@dataclass(frozen=True)
class VerifiedChain:
    eec: x509.Certificate
    proxies: tuple[x509.Certificate, ...]  # leaf first
    path: tuple[x509.Certificate, ...]  # eec .. trust anchor
    limited: bool = False

    @property
    def identity(self) -> str:
        """The EEC subject in grid slash form: what gridmap files and ACLs key on."""
        return slash_dn(self.eec.subject)

    @property
    def kind(self) -> str:
        return "proxy" if self.proxies else "x509"


def _ext_value(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> bytes | None:
    try:
        ext = cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None
    value = ext.value
    if isinstance(value, x509.UnrecognizedExtension):
        return value.value
    return None


def proxy_info(cert: x509.Certificate) -> ProxyInfo | None:
    """How `cert` is a proxy, or None when it is an ordinary certificate."""
    for oid, spec, kind in ((OID_PROXY_RFC3820, _ProxyCertInfo(), ProxyKind.RFC3820),
                            (OID_PROXY_GSI3, _Gsi3ProxyCertInfo(), ProxyKind.GSI3)):
        raw = _ext_value(cert, oid)
        if raw is None:
            continue
        try:
            info, _ = decoder.decode(raw, asn1Spec=spec)
        except Exception as exc:  # pyasn1 raises a zoo of error types
            raise cert_failure(cert, "has an unreadable ProxyCertInfo",
                               "make a new proxy") from exc
        limit = info["pathLenConstraint"]
        return ProxyInfo(kind, int(limit) if limit.isValue else None,
                         str(info["proxyPolicy"]["policyLanguage"]))
    rdns = cert.subject.rdns
    if len(rdns) > 1 and rdns[:-1] == cert.issuer.rdns:
        last = list(rdns[-1])
        if len(last) == 1 and last[0].oid == NameOID.COMMON_NAME and last[0].value in (
            "proxy", "limited proxy"
        ):
            language = PPL_LIMITED if last[0].value == "limited proxy" else PPL_INHERIT_ALL
            return ProxyInfo(ProxyKind.LEGACY, None, language)
    return None


def _check_proxy(proxy: x509.Certificate, info: ProxyInfo, issuer: x509.Certificate,
                 now: datetime) -> None:
    check_validity(proxy, now)
    if info.language == PPL_INDEPENDENT:
        raise cert_failure(proxy, "is an independent proxy, which carries no identity",
                           "make an impersonation proxy (grid-proxy-init -rfc)")
    rdns = proxy.subject.rdns
    last = list(rdns[-1])
    if (rdns[:-1] != issuer.subject.rdns or len(last) != 1
            or last[0].oid != NameOID.COMMON_NAME or proxy.issuer != issuer.subject):
        raise cert_failure(proxy, f"is not named after its issuer {slash_dn(issuer.subject)}"
                           " plus one CN", "make a new proxy from your own certificate")
    try:
        proxy.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise cert_failure(proxy, f"is not signed by the key of {slash_dn(issuer.subject)}",
                           "make a new proxy from your own certificate and key") from exc
    try:
        if proxy.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign:
            raise cert_failure(proxy, "claims to sign certificates", "make a new proxy")
    except x509.ExtensionNotFound:
        pass
    try:
        if not issuer.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            raise cert_failure(issuer, "may not sign proxies (no digitalSignature key usage)",
                               "ask your CA for a certificate usable for proxies")
    except x509.ExtensionNotFound:
        pass


def split_chain(chain: Sequence[x509.Certificate]) -> tuple[list[tuple[x509.Certificate,
                                                                      ProxyInfo]], int]:
    """The leading proxies with their info, and the index of the EEC."""
    proxies: list[tuple[x509.Certificate, ProxyInfo]] = []
    for index, cert in enumerate(chain):
        info = proxy_info(cert)
        if info is None:
            return proxies, index
        proxies.append((cert, info))
    raise AuthenticationFailed(
        "the client certificate chain holds only proxies",
        hint="send the end-entity certificate with the proxy (the proxy file holds both)",
    )


def verify_chain(chain: Sequence[x509.Certificate], store: TrustStore,
                 now: datetime) -> VerifiedChain:
    """Validate a client chain (leaf first); raise AuthenticationFailed naming the culprit."""
    if not chain:
        raise AuthenticationFailed("no client certificate was sent",
                                   hint="connect with a certificate or proxy")
    proxies, eec_index = split_chain(chain)
    limit: int | None = None
    for index in range(len(proxies) - 1, -1, -1):  # from the EEC outwards
        proxy, info = proxies[index]
        _check_proxy(proxy, info, chain[index + 1], now)
        if limit is not None:
            if limit == 0:
                raise cert_failure(proxy, "exceeds the proxy path length its issuer allows",
                                   "delegate from a proxy that allows further delegation")
            limit -= 1
        if info.path_len is not None:
            limit = info.path_len if limit is None else min(limit, info.path_len)
    eec = chain[eec_index]
    path = verify_end_entity(eec, store, now, untrusted=chain[eec_index + 1:])
    return VerifiedChain(
        eec=eec,
        proxies=tuple(p for p, _ in proxies),
        path=tuple(path),
        limited=any(info.limited for _, info in proxies),
    )
