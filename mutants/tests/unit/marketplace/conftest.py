"""Shared fixtures: a test PKI (documents and signing helpers: tests.helpers.marketdocs)."""

from __future__ import annotations

import pytest
from tests.helpers.pki import Identity, make_ca, make_endorser

from stratuslab.services.marketplace.trust import TrustStore


@pytest.fixture(scope="session")
def ca() -> Identity:
    return make_ca("Test CA", key_index=0)


@pytest.fixture(scope="session")
def other_ca() -> Identity:
    return make_ca("Rogue CA", key_index=2)


@pytest.fixture(scope="session")
def alice(ca: Identity) -> Identity:
    return make_endorser(ca, "Alice Example", "alice@example.org", key_index=1)


@pytest.fixture(scope="session")
def bob(ca: Identity) -> Identity:
    return make_endorser(ca, "Bob Example", "bob@example.org", key_index=3)


@pytest.fixture(scope="session")
def trust(ca: Identity) -> TrustStore:
    return TrustStore((ca.cert,))
