"""Site image policy: which marketplace entries a cloud accepts to boot, and why.

White/black lists of endorser emails, image identifiers and SHA-1 checksums (an empty whitelist
admits everything); expired and deprecated entries are refused with the reason.  `explain` judges
one entry; `choose` picks the newest acceptable entry among candidates (one per endorser) or
raises `PolicyRefused` carrying every reason.  Pure logic: imports core only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from stratuslab.core.marketplace import MetadataEntry, PolicyRefused, Verdict, format_date


def _norm(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.strip().lower() for v in values if v.strip())


@dataclass(frozen=True)
class PolicyLists:
    endorsers_whitelist: frozenset[str] = frozenset()
    endorsers_blacklist: frozenset[str] = frozenset()
    images_whitelist: frozenset[str] = frozenset()
    images_blacklist: frozenset[str] = frozenset()
    checksums_whitelist: frozenset[str] = frozenset()
    checksums_blacklist: frozenset[str] = frozenset()

    @classmethod
    def of(cls, **lists: Iterable[str]) -> PolicyLists:
        """Build from plain lists (settings); emails and checksums compare case-insensitively."""
        images = {k: frozenset(v.strip() for v in vals if v.strip()) for k, vals in lists.items()
                  if k.startswith("images_")}
        others = {k: _norm(vals) for k, vals in lists.items() if not k.startswith("images_")}
        return cls(**images, **others)


class TrustPolicy:
    """`explain(entry)` -> Verdict(allowed, reasons)."""

    def __init__(self, lists: PolicyLists | None = None, *, allow_expired: bool = False,
                 allow_deprecated: bool = False) -> None:
        self.lists = lists or PolicyLists()
        self.allow_expired = allow_expired
        self.allow_deprecated = allow_deprecated

    def explain(self, entry: MetadataEntry, now: datetime | None = None) -> Verdict:
        refusals: list[str] = []
        passes: list[str] = []
        if entry.deprecated is not None and not self.allow_deprecated:
            refusals.append(f"entry by {entry.email} is deprecated: {entry.deprecated}")
        if now is not None and entry.expired(now) and not self.allow_expired:
            assert entry.valid_until is not None
            refusals.append(f"entry by {entry.email} expired on {format_date(entry.valid_until)}")
        self._lists(entry, refusals, passes)
        allowed = not refusals
        return Verdict(
            allowed=allowed,
            reasons=tuple(refusals) if refusals else tuple(passes or ["no policy list applies"]),
            identifier=entry.identifier,
            email=entry.email,
        )

    def _lists(self, entry: MetadataEntry, refusals: list[str], passes: list[str]) -> None:
        lists = self.lists
        checks = (
            ("endorser", entry.email.lower(), lists.endorsers_whitelist, lists.endorsers_blacklist),
            ("image", entry.identifier, lists.images_whitelist, lists.images_blacklist),
            ("checksum", entry.sha1.lower(), lists.checksums_whitelist, lists.checksums_blacklist),
        )
        for what, value, white, black in checks:
            if value in black:
                refusals.append(f"{what} {value} is blacklisted")
            elif white and value not in white:
                refusals.append(f"{what} {value} is not in the {what}s whitelist")
            elif white:
                passes.append(f"{what} {value} is whitelisted")

    def choose(self, candidates: Sequence[MetadataEntry], now: datetime) -> tuple[MetadataEntry, Verdict]:
        """Newest allowed entry among `candidates`, else PolicyRefused with every reason."""
        if not candidates:
            raise PolicyRefused(identifier="?", reasons="no marketplace entry")
        verdicts = [(e, self.explain(e, now)) for e in candidates]
        allowed = [(e, v) for e, v in verdicts if v.allowed]
        if allowed:
            return max(allowed, key=lambda ev: ev[0].created)
        reasons = "; ".join(r for _, v in verdicts for r in v.reasons)
        raise PolicyRefused(identifier=candidates[0].identifier, reasons=reasons)
