from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from tests.helpers.marketdocs import NOW, unsigned

from stratuslab.core.marketplace import MetadataEntry, PolicyRefused
from stratuslab.services.marketplace import rdf
from stratuslab.services.marketplace.policy import PolicyLists, TrustPolicy


@pytest.fixture()
def entry() -> MetadataEntry:
    return rdf.parse_entry(unsigned())


def test_no_lists_allow_a_valid_entry(entry: MetadataEntry) -> None:
    verdict = TrustPolicy().explain(entry, NOW)
    assert verdict.allowed
    assert verdict.reasons == ("no policy list applies",)


def test_endorser_not_in_whitelist_is_refused_with_reason(entry: MetadataEntry) -> None:
    policy = TrustPolicy(PolicyLists.of(endorsers_whitelist=["bob@example.org"]))
    verdict = policy.explain(entry, NOW)
    assert not verdict.allowed
    assert verdict.reasons == ("endorser alice@example.org is not in the endorsers whitelist",)


def test_whitelisted_endorser_compares_case_insensitively(entry: MetadataEntry) -> None:
    policy = TrustPolicy(PolicyLists.of(endorsers_whitelist=["Alice@Example.org"]))
    assert policy.explain(entry, NOW).allowed


@pytest.mark.parametrize("lists,reason", [
    ({"endorsers_blacklist": ["alice@example.org"]}, "endorser alice@example.org is blacklisted"),
    ({"images_blacklist": ["IDENT"]}, "image IDENT is blacklisted"),
    ({"checksums_blacklist": ["SHA1"]}, "checksum SHA1 is blacklisted"),
    ({"images_whitelist": ["AAAAAAAAAAAAAAAAAAAAAAAAAAA"]}, "image IDENT is not in the images whitelist"),
    ({"checksums_whitelist": ["0" * 40]}, "checksum SHA1 is not in the checksums whitelist"),
])
def test_black_and_white_lists_refuse(entry: MetadataEntry, lists: dict[str, list[str]],
                                      reason: str) -> None:
    def fill(text: str) -> str:
        return text.replace("IDENT", entry.identifier).replace("SHA1", entry.sha1.lower())

    filled = {k: [fill(v) for v in vals] for k, vals in lists.items()}
    verdict = TrustPolicy(PolicyLists.of(**filled)).explain(entry, NOW)
    assert not verdict.allowed
    assert verdict.reasons == (fill(reason),)


def test_expired_entry_is_refused_with_date(entry: MetadataEntry) -> None:
    expired = replace(entry, valid_until=NOW - timedelta(days=1))
    verdict = TrustPolicy().explain(expired, NOW)
    assert not verdict.allowed
    assert "expired on" in verdict.reasons[0]


def test_deprecated_entry_is_refused_with_its_reason(entry: MetadataEntry) -> None:
    verdict = TrustPolicy().explain(replace(entry, deprecated="broken sshd"), NOW)
    assert verdict.reasons == ("entry by alice@example.org is deprecated: broken sshd",)


def test_choose_takes_newest_allowed_and_explains_refusal(entry: MetadataEntry) -> None:
    old = entry
    newer = replace(entry, endorsement=replace(entry.endorsement, created=NOW + timedelta(hours=1)))
    chosen, verdict = TrustPolicy().choose([old, newer], NOW)
    assert chosen is newer and verdict.allowed
    with pytest.raises(PolicyRefused, match="deprecated: gone"):
        TrustPolicy().choose([replace(entry, deprecated="gone")], NOW)
