"""Marketplace use cases: accept signed uploads, query entries, list endorsers, judge images.

`MarketplaceService` receives its repository (the `MarketplaceRepository` port), trust store,
policy and clock by constructor.  An upload is checked in the original order — signature (and
endorser = certificate), format constraints, then "not older than the latest for this image and
endorser" — and the exact signed bytes are stored.  `ImageGate` is the cloud side: it verifies
documents fetched from a marketplace and applies the site policy at every launch.  Imports core and
sibling service modules only; never drivers, persistence or api.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from stratuslab.core.marketplace import (
    EndorserSummary,
    EntryNotFound,
    EntryPage,
    EntryQuery,
    EntryStatus,
    InvalidMetadata,
    MarketplaceRepository,
    MetadataEntry,
    StoredEntry,
    UntrustedImage,
    Verdict,
    format_date,
    parse_date,
)
from stratuslab.services.marketplace.policy import TrustPolicy
from stratuslab.services.marketplace.trust import TrustStore
from stratuslab.services.marketplace.xmldsig import VerifiedEntry, verify_document

Clock = Callable[[], datetime]
CLOCK_SKEW = timedelta(minutes=10)


def utcnow() -> datetime:
    return datetime.now(UTC)


class MarketplaceService:
    def __init__(
        self,
        repository: MarketplaceRepository,
        trust: TrustStore,
        *,
        policy: TrustPolicy | None = None,
        clock: Clock = utcnow,
        require_email: bool = True,
        reload_trust: Callable[[], TrustStore | None] | None = None,
    ) -> None:
        self.repository = repository
        self.trust = trust
        self.reload_trust = reload_trust  # a new store when the anchors or CRLs changed, else None
        self.policy = policy or TrustPolicy()
        self.clock = clock
        self.require_email = require_email

    def validate(self, raw: bytes) -> VerifiedEntry:
        """Signature, chain, endorser and format checks; raises InvalidMetadata (HTTP 400)."""
        now = self.clock()
        if self.reload_trust is not None and (fresh := self.reload_trust()) is not None:
            self.trust = fresh
        verified = verify_document(raw, self.trust, now=now, require_email=self.require_email)
        if verified.entry.created > now + CLOCK_SKEW:
            # a far-future date would make every later upload "older than the latest"
            raise InvalidMetadata(
                f"endorsement date {format_date(verified.entry.created)} is in the future",
                hint="check the signing machine's clock and sign again",
            )
        return verified

    def upload(self, raw: bytes) -> StoredEntry:
        verified = self.validate(raw)
        stored = StoredEntry(entry=verified.entry, raw=raw, latest=True, uploaded=self.clock())
        return self.repository.add(stored)

    def search(self, query: EntryQuery) -> EntryPage:
        if query.limit < 1 or query.limit > 1000 or query.offset < 0:
            raise InvalidMetadata(
                f"paging offset={query.offset} limit={query.limit} out of range (limit 1..1000)"
            )
        return self.repository.search(query, self.clock())

    def latest(self, identifier: str, email: str | None = None) -> Sequence[StoredEntry]:
        """Currently valid entries of an image (one per endorser); 404 if none."""
        page = self.search(EntryQuery(identifier=identifier, email=email, limit=1000))
        if not page.entries:
            raise EntryNotFound(f"{identifier}/{email}" if email else identifier)
        return page.entries

    def history(self, identifier: str, email: str) -> Sequence[StoredEntry]:
        page = self.search(
            EntryQuery(status=EntryStatus.ALL, identifier=identifier, email=email, limit=1000)
        )
        if not page.entries:
            raise EntryNotFound(f"{identifier}/{email}")
        return page.entries

    def get(self, identifier: str, email: str, created: str | datetime) -> StoredEntry:
        when = parse_date(created) if isinstance(created, str) else created
        found = self.repository.get(identifier, email, when)
        if found is None:
            raise EntryNotFound(f"{identifier}/{email}/{created}")
        return found

    def endorsers(self) -> Sequence[EndorserSummary]:
        return self.repository.endorsers()

    def endorser(self, email: str) -> tuple[EndorserSummary, Sequence[StoredEntry]]:
        summary = self.repository.endorser(email)
        if summary is None:
            raise EntryNotFound(f"endorser {email}")
        page = self.search(EntryQuery(status=EntryStatus.ALL, email=email, limit=1000))
        return summary, page.entries

    def explain(self, identifier: str) -> list[Verdict]:
        """The site policy's verdict on every latest entry of an image (expired ones included)."""
        page = self.search(EntryQuery(status=EntryStatus.LATEST, identifier=identifier, limit=1000))
        latest = [s.entry for s in page.entries]
        if not latest:
            raise EntryNotFound(identifier)
        return [self.policy.explain(e, self.clock()) for e in latest]


class ImageGate:
    """Cloud side: verify fetched metadata documents and apply the site policy (every launch)."""

    def __init__(self, trust: TrustStore, policy: TrustPolicy, *, clock: Clock = utcnow,
                 reload_trust: Callable[[], TrustStore | None] | None = None) -> None:
        self.trust = trust
        self.policy = policy
        self.clock = clock
        self.reload_trust = reload_trust  # a new store when the trust anchors changed, else None

    def refresh(self) -> TrustStore:
        """The trust store as the anchors are now (a CA removed or added takes effect at once)."""
        if self.reload_trust is not None and (fresh := self.reload_trust()) is not None:
            self.trust = fresh
        return self.trust

    def admit(self, identifier: str, documents: Sequence[bytes]) -> tuple[MetadataEntry, Verdict]:
        """The entry to boot among `documents`; raises UntrustedImage / PolicyRefused with reasons
        (one kind, forbidden: the site refuses to boot it)."""
        self.refresh()
        now = self.clock()
        entries: list[MetadataEntry] = []
        problems: list[str] = []
        for raw in documents:
            try:
                entry = verify_document(raw, self.trust, now=now).entry
            except InvalidMetadata as exc:
                problems.append(exc.reason)
                continue
            if entry.identifier != identifier:
                problems.append(f"document describes {entry.identifier}, not {identifier}")
                continue
            entries.append(entry)
        if not entries:
            raise UntrustedImage(
                f"no verifiable entry for image {identifier}: " + ("; ".join(problems) or "none found"),
                hint=f"see why with: stratus policy-image {identifier}")
        return self.policy.choose(entries, now)
