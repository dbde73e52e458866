"""Shared fixtures: a test PKI (documents and signing helpers: tests.helpers.marketdocs), and an
in-process simulated cloud trusting the test CA (`mcloud`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.cloud import make_settings
from tests.helpers.pki import Identity, make_ca, make_endorser

from stratuslab.bootstrap import Cloud, build_cloud
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


@pytest.fixture
def mcloud(tmp_path: Path, ca: Identity) -> Iterator[Cloud]:
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir()
    (ca_dir / "ca.pem").write_bytes(ca.cert_pem)
    c = build_cloud(make_settings(tmp_path / "data", marketplace={"ca_dir": str(ca_dir)}))
    c.identity.ensure_admin("adminpw")
    yield c
    c.stop()
