"""Distinguished names compared as parsed names, not as text.

An endorsement names its signer's subject and issuer as text, and signers wrote that text in
several ways: the original Java signer used RFC 2253 (`X500Principal.getName()`), which writes
attributes without an RFC 2253 keyword as a dotted OID with a hex-encoded BER value (an email
attribute becomes `1.2.840.113549.1.9.1=#1611616c696365...`); OpenSSL tools write the slash form
(`/DC=eu/CN=Alice/emailAddress=alice@...`); Python writes RFC 4514.  `parse_dn` reads any of
them into (OID, value) pairs in the name's encoded order; `same_name` compares such pairs with a
certificate's name (values case-insensitive, inner white space collapsed).
Imports only `cryptography` and the standard library.
"""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.x509.oid import NameOID

_KEYWORDS: dict[str, x509.ObjectIdentifier] = {
    "cn": NameOID.COMMON_NAME,
    "c": NameOID.COUNTRY_NAME,
    "l": NameOID.LOCALITY_NAME,
    "st": NameOID.STATE_OR_PROVINCE_NAME,
    "o": NameOID.ORGANIZATION_NAME,
    "ou": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "dc": NameOID.DOMAIN_COMPONENT,
    "uid": NameOID.USER_ID,
    "street": NameOID.STREET_ADDRESS,
    "serialnumber": NameOID.SERIAL_NUMBER,
    "e": NameOID.EMAIL_ADDRESS,
    "email": NameOID.EMAIL_ADDRESS,
    "emailaddress": NameOID.EMAIL_ADDRESS,
    "title": NameOID.TITLE,
    "gn": NameOID.GIVEN_NAME,
    "givenname": NameOID.GIVEN_NAME,
    "sn": NameOID.SURNAME,
}
_OID = re.compile(r"(?:oid\.)?([0-9]+(?:\.[0-9]+)+)", re.IGNORECASE)
_SLASH_ATTR = re.compile(r"/(?=[A-Za-z0-9][A-Za-z0-9.-]*=)")
#: BER string tags -> codec (UTF8String, PrintableString, T61, IA5String, Universal, BMPString)
_STRING_TAGS = {0x0C: "utf-8", 0x13: "latin-1", 0x14: "latin-1", 0x16: "latin-1",
                0x1C: "utf-32-be", 0x1E: "utf-16-be"}  # fmt: skip

Pair = tuple[str, str]  # (dotted OID or unknown keyword, value)


def _attribute(key: str) -> str:
    key = key.strip()
    oid = _KEYWORDS.get(key.lower())
    if oid is not None:
        return oid.dotted_string
    match = _OID.fullmatch(key)
    return match.group(1) if match else key.lower()


def _ber_string(hex_text: str) -> str:
    """`#1611616c...` (RFC 2253 hex form) -> the string it encodes; undecodable: the hex."""
    try:
        data = bytes.fromhex(hex_text)
        tag, length, offset = data[0], data[1], 2
        if length & 0x80:
            count = length & 0x7F
            length, offset = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
        return data[offset : offset + length].decode(_STRING_TAGS.get(tag, "utf-8"))
    except (ValueError, IndexError, UnicodeDecodeError):
        return "#" + hex_text


def _unescape(raw: str) -> str:
    """RFC 2253/4514 escapes: `\\,` and `\\XX` hex pairs (UTF-8 bytes)."""
    out = bytearray()
    i = 0
    while i < len(raw):
        ch = raw[i]
        if (
            ch == "\\"
            and i + 2 < len(raw) + 1
            and re.fullmatch(r"[0-9A-Fa-f]{2}", raw[i + 1 : i + 3])
        ):
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        elif ch == "\\" and i + 1 < len(raw):
            out.extend(raw[i + 1].encode())
            i += 2
        else:
            out.extend(ch.encode())
            i += 1
    return out.decode("utf-8", "replace")


def _split_rfc(text: str) -> list[tuple[str, str]]:
    """`CN=A\\,B,O=x+OU=y` -> [("CN", "A\\,B"), ("O", "x"), ("OU", "y")] (escapes kept)."""
    pairs, part, escaped = [], "", False
    for ch in text:
        if escaped:
            part, escaped = part + ch, False
        elif ch == "\\":
            part, escaped = part + ch, True
        elif ch in ",;+":
            pairs.append(part)
            part = ""
        else:
            part += ch
    pairs.append(part)
    out = []
    for chunk in pairs:
        key, sep, value = chunk.partition("=")
        if sep:
            out.append((key, value.strip()))
    return out


def _value(raw: str) -> str:
    raw = raw.strip()
    if raw.startswith("#"):
        return _ber_string(raw[1:])
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        raw = raw[1:-1]
    return _unescape(raw)


def parse_dn(text: str) -> list[Pair]:
    """RFC 2253/4514 (most significant last) or slash form (first) -> pairs, slash order."""
    text = text.strip()
    if text.startswith("/"):
        chunks = [c.partition("=") for c in _SLASH_ATTR.split(text[1:]) if c]
        return [(_attribute(k), v.strip()) for k, _, v in chunks]
    return [(_attribute(k), _value(v)) for k, v in reversed(_split_rfc(text))]


def _fold(value: str) -> str:
    return " ".join(value.split()).casefold()


def name_pairs(name: x509.Name) -> list[Pair]:
    return [(a.oid.dotted_string, str(a.value)) for rdn in name.rdns for a in rdn]


def same_name(text: str, name: x509.Name) -> bool:
    """Does `text` (any of the forms above) name `name`?  Either order is accepted, as signers
    disagreed on it."""
    wanted = [(oid, _fold(v)) for oid, v in parse_dn(text)]
    have = [(oid, _fold(v)) for oid, v in name_pairs(name)]
    return bool(wanted) and wanted in (have, have[::-1])
