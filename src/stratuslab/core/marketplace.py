"""Marketplace domain: image-metadata value objects, identifiers, queries, errors and the repository port.

A marketplace entry is one signed endorsement of an image by one endorser at one date.  Entries are
never deleted; per (identifier, endorser) the newest one is "latest".  The repository port is what
the marketplace service needs from persistence.  Only the standard library may be imported here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from stratuslab.core.errors import CloudError, Conflict, ErrorKind, InvalidInput, NotFound

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9_-]{27}$")
EMAIL_RE = re.compile(r"^[^@\s/]+@[^@\s/]+$")
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def sha1_to_identifier(sha1_hex: str) -> str:
    """SHA-1 (40 hex digits) -> 27 characters of 6 bits, most significant first (base64url order)."""
    value = int(sha1_hex, 16)
    chars = []
    for _ in range(27):
        chars.append(_ALPHABET[value & 0x3F])
        value >>= 6
    return "".join(reversed(chars))


def identifier_to_sha1(identifier: str) -> str:
    if not IDENTIFIER_RE.match(identifier):
        raise InvalidMetadata(f"identifier {identifier!r} is not 27 characters of A-Z a-z 0-9 - _")
    value = 0
    for ch in identifier:
        value = (value << 6) | _ALPHABET.index(ch)
    if value >> 160:
        raise InvalidMetadata(f"identifier {identifier!r} does not encode a SHA-1 (first char too big)")
    return f"{value:040x}"


def format_date(when: datetime) -> str:
    return when.astimezone(UTC).strftime(DATE_FORMAT)


def parse_date(text: str) -> datetime:
    """Parse `yyyy-MM-ddTHH:mm:ssZ` (also tolerates fractional seconds and +00:00)."""
    raw = text.strip()
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidMetadata(f"date {raw!r} is not yyyy-MM-ddTHH:mm:ssZ") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).replace(microsecond=0)


class InvalidMetadata(InvalidInput):
    """The wire form of this error is `invalid metadata: <reason>` (HTTP 400)."""

    def __init__(self, reason: str, *, hint: str | None = None):
        self.reason = reason
        super().__init__(f"invalid metadata: {reason}", hint=hint)


class SignatureInvalid(InvalidMetadata):
    """Signature, certificate chain or endorser consistency failed."""


class OlderThanLatest(Conflict):
    template = (
        "entry {identifier} by {email} created {created} is older than the latest one ({latest})"
    )
    hint_template = "sign it again (a new signature gets the current date) and upload that"


class DuplicateEntry(Conflict):
    template = "entry {identifier} by {email} created {created} is already stored"
    hint_template = "nothing to do; fetch it with: stratus show-image {identifier}"


class EntryNotFound(NotFound):
    def __init__(self, ident: str):
        super().__init__("marketplace entry", ident, listing="stratus search-image")


class PolicyRefused(CloudError):
    kind = ErrorKind.FORBIDDEN
    template = "image {identifier} refused by site policy: {reasons}"
    hint_template = "see why with: stratus policy-image {identifier}"


class UntrustedImage(CloudError):
    """The site does not trust what it would boot: no signed entry of the image verifies (chain,
    signature, revocation), or the registered image no longer matches its entry.  The same kind
    as a policy refusal: both are the site refusing to boot an image, whatever the reason (REST
    and OCCI 403, XML-RPC AUTHORIZATION), while a malformed upload stays `InvalidMetadata`."""

    kind = ErrorKind.FORBIDDEN


@dataclass(frozen=True, slots=True)
class Checksum:
    algorithm: str  # "SHA-1", "SHA-256", "MD5", "SHA-512" as written in the metadata
    value: str  # lowercase hex


@dataclass(frozen=True, slots=True)
class Endorser:
    email: str
    subject: str = ""  # RFC 2253 DN of the signing certificate
    issuer: str = ""


@dataclass(frozen=True, slots=True)
class Endorsement:
    created: datetime
    endorser: Endorser


@dataclass(frozen=True, slots=True)
class MetadataEntry:
    """What one metadata document says (signature excluded)."""

    identifier: str
    bytes: int
    checksums: tuple[Checksum, ...]
    endorsement: Endorsement
    type: str = "base"
    kind: str = "machine"  # machine | disk
    os: str = ""
    os_version: str = ""
    arch: str = ""
    format: str = ""  # raw | qcow2
    compression: str = ""  # "" | gz | bz2 | xz
    locations: tuple[str, ...] = ()
    valid_until: datetime | None = None
    deprecated: str | None = None  # reason; None = not deprecated
    title: str = ""
    description: str = ""
    version: str = ""
    creator: str = ""
    tags: tuple[str, ...] = ()  # dcterms:alternative
    inbound_ports: tuple[int, ...] = ()
    hypervisor: str = ""

    @property
    def email(self) -> str:
        return self.endorsement.endorser.email

    @property
    def created(self) -> datetime:
        return self.endorsement.created

    @property
    def sha1(self) -> str:
        return self.checksum("SHA-1") or ""

    def checksum(self, algorithm: str) -> str | None:
        wanted = _norm_alg(algorithm)
        for c in self.checksums:
            if _norm_alg(c.algorithm) == wanted:
                return c.value
        return None

    def expired(self, now: datetime) -> bool:
        return self.valid_until is not None and self.valid_until <= now

    def key(self) -> str:
        """`<identifier>/<email>/<created>`: the path of this entry under /metadata."""
        return f"{self.identifier}/{self.email}/{format_date(self.created)}"


def _norm_alg(name: str) -> str:
    return name.upper().replace("-", "").replace("_", "")


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as the marketplace keeps it: parsed view plus the exact signed original."""

    entry: MetadataEntry
    raw: bytes
    latest: bool = True
    uploaded: datetime | None = None


class EntryStatus(StrEnum):
    VALID = "valid"  # latest per (id, endorser), not expired, not deprecated
    EXPIRED = "expired"  # latest, expired, not deprecated
    DEPRECATED = "deprecated"  # latest, deprecated
    LATEST = "latest"  # latest per (id, endorser), whatever its state (what a cloud judges)
    ALL = "all"  # every entry, history included


@dataclass(frozen=True, slots=True)
class EntryQuery:
    status: EntryStatus = EntryStatus.VALID
    identifier: str | None = None
    email: str | None = None
    created: datetime | None = None  # given: history lookup (status ignored)
    os: str | None = None
    arch: str | None = None
    kind: str | None = None
    tag: str | None = None
    text: str | None = None  # free text over title, description, os, identifier, email
    offset: int = 0
    limit: int = 100


@dataclass(frozen=True, slots=True)
class EntryPage:
    entries: tuple[StoredEntry, ...]
    total: int
    offset: int = 0
    limit: int = 100


@dataclass(frozen=True, slots=True)
class EndorserSummary:
    email: str
    subject: str
    issuer: str
    entries: int
    last_created: datetime | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The site policy's answer for one entry; `reasons` explain a refusal (or list what passed)."""

    allowed: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)
    identifier: str = ""
    email: str = ""

    def __str__(self) -> str:
        head = "allowed" if self.allowed else "refused"
        return f"{head}: " + "; ".join(self.reasons) if self.reasons else head


class MarketplaceRepository(Protocol):
    """Persistence port of the marketplace (its own database, separate from the cloud's)."""

    def add(self, stored: StoredEntry) -> StoredEntry:
        """Store a new entry and make it the latest for (identifier, email).

        Raises OlderThanLatest if a newer entry exists, DuplicateEntry for the same created date.
        """
        ...

    def get(self, identifier: str, email: str, created: datetime) -> StoredEntry | None: ...

    def search(self, query: EntryQuery, now: datetime) -> EntryPage: ...

    def endorsers(self) -> Sequence[EndorserSummary]: ...

    def endorser(self, email: str) -> EndorserSummary | None: ...
