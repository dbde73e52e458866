"""Distinguished names in the forms the grid and LDAP use.

Grid tools (gridmap files, VOMS `.lsc` files, OpenSSL's `-subject` output) write DNs in the
"slash" form, forward order: `/DC=eu/DC=stratuslab/O=Test/CN=Alice Example`.  LDAP (`seeAlso`)
wants RFC 4514, reverse order: `CN=Alice Example,O=Test,DC=stratuslab,DC=eu`.  This module
converts between them and normalises either to the slash form.  Imports only `cryptography`.
"""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.x509.oid import NameOID

from stratuslab.core.errors import InvalidInput

#: OpenSSL short names for the attributes grid DNs use; others fall back to the dotted OID
_SHORT: dict[x509.ObjectIdentifier, str] = {
    NameOID.COUNTRY_NAME: "C",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.LOCALITY_NAME: "L",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.COMMON_NAME: "CN",
    NameOID.DOMAIN_COMPONENT: "DC",
    NameOID.EMAIL_ADDRESS: "emailAddress",
    NameOID.USER_ID: "UID",
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.STREET_ADDRESS: "street",
    NameOID.GIVEN_NAME: "GN",
    NameOID.SURNAME: "SN",
    NameOID.TITLE: "title",
}
_BY_SHORT = {v.lower(): k for k, v in _SHORT.items()} | {"e": NameOID.EMAIL_ADDRESS}
# an attribute starts after a "/" followed by "name=": values may themselves contain "/"
_SLASH_ATTR = re.compile(r"/(?=[A-Za-z][A-Za-z0-9.-]*=)")


def _short(oid: x509.ObjectIdentifier) -> str:
    return _SHORT.get(oid, oid.dotted_string)


def slash_dn(name: x509.Name) -> str:
    """`/C=../O=../CN=..` in the order the certificate encodes its RDNs."""
    parts = []
    for rdn in name.rdns:
        parts.append("+".join(f"{_short(a.oid)}={a.value!s}" for a in rdn))
    return "/" + "/".join(parts)


def parse_slash_dn(text: str) -> list[tuple[str, str]]:
    """`/DC=eu/CN=host/x.org` -> [("DC", "eu"), ("CN", "host/x.org")]."""
    text = text.strip()
    if not text.startswith("/"):
        raise InvalidInput(f"DN {text!r} is not in slash form", hint="write it as /C=../O=../CN=..")
    pairs = []
    for chunk in _SLASH_ATTR.split(text[1:]):
        if not chunk:
            continue
        key, sep, value = chunk.partition("=")
        if not sep or not key:
            raise InvalidInput(f"DN {text!r}: cannot read {chunk!r}",
                               hint="write it as /C=../CN=..")
        pairs.append((key, value))
    if not pairs:
        raise InvalidInput(f"DN {text!r} is empty", hint="write it as /C=../O=../CN=..")
    return pairs


def _rfc4514_escape(value: str) -> str:
    out = re.sub(r'([,+"\\<>;=])', r"\\\1", value)
    if out.startswith((" ", "#")):
        out = "\\" + out
    if out.endswith(" "):
        out = out[:-1] + "\\ "
    return out


def slash_to_rfc4514(text: str) -> str:
    pairs = parse_slash_dn(text)
    return ",".join(f"{k}={_rfc4514_escape(v)}" for k, v in reversed(pairs))


def _split_rfc4514(text: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    key, buf, escaped, in_value = "", "", False, False
    for ch in text:
        if escaped:
            buf, escaped = buf + ch, False
        elif ch == "\\":
            escaped = True
        elif ch == "=" and not in_value:
            key, buf, in_value = buf.strip(), "", True
        elif ch in ",;" and in_value:
            pairs.append((key, buf.strip()))
            key, buf, in_value = "", "", False
        else:
            buf += ch
    if in_value:
        pairs.append((key, buf.strip()))
    if not pairs or not all(k for k, _ in pairs) or buf and not in_value:
        raise InvalidInput(f"DN {text!r} cannot be read", hint="write it as /C=../O=../CN=..")
    return pairs


def normalise_dn(text: str) -> str:
    """Either form in, slash form out, with attribute names in OpenSSL's spelling."""
    text = text.strip()
    pairs = parse_slash_dn(text) if text.startswith("/") else list(reversed(_split_rfc4514(text)))
    out = []
    for key, value in pairs:
        oid = _BY_SHORT.get(key.lower())
        out.append(f"{_short(oid) if oid else key}={value}")
    return "/" + "/".join(out)


def to_rfc4514(text: str) -> str:
    """Either form in, RFC 4514 out (what LDAP `seeAlso` stores)."""
    return slash_to_rfc4514(normalise_dn(text))
