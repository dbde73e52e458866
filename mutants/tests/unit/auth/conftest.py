"""Test PKI made in Python (CA, user, second user, VOMS server) and small fakes for auth tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from stratuslab.core.entities import Principal
from stratuslab.services.auth.chain import AuthEvent
from stratuslab.services.auth.x509 import issue

CA_DN = "/DC=eu/DC=stratuslab/CN=Test CA"
ALICE_DN = "/DC=eu/DC=stratuslab/O=Test/CN=Alice Example"
BOB_DN = "/DC=eu/DC=stratuslab/O=Test/CN=Bob Example"
VOMS_DN = "/DC=eu/DC=stratuslab/CN=voms.example.org"
VO = "vo.stratuslab.eu"


@dataclass
class Pki:
    now: datetime
    ca: issue.Issued
    alice: issue.Issued
    bob: issue.Issued
    voms: issue.Issued
    rogue_ca: issue.Issued
    rogue_voms: issue.Issued
    CA_DN = CA_DN
    ALICE_DN = ALICE_DN
    BOB_DN = BOB_DN
    VOMS_DN = VOMS_DN
    VO = VO

    @staticmethod
    def der(*certs: x509.Certificate) -> tuple[bytes, ...]:
        return tuple(c.public_bytes(Encoding.DER) for c in certs)

    def write_ca_dir(self, root: Path, crl: x509.CertificateRevocationList | None = None) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        (root / "1a2b3c4d.0").write_bytes(self.ca.cert_pem())  # hashed layout, name not checked
        (root / "1a2b3c4d.signing_policy").write_text("access_id_CA X509 'x'\n")
        if crl is not None:
            (root / "1a2b3c4d.r0").write_bytes(crl.public_bytes(Encoding.PEM))
        return root

    def write_vomsdir(self, root: Path) -> Path:
        (root / VO).mkdir(parents=True, exist_ok=True)
        (root / VO / "voms.example.org.lsc").write_text(f"{VOMS_DN}\n{CA_DN}\n")
        return root


@pytest.fixture(scope="session")
def pki() -> Pki:
    now = datetime.now(UTC)
    ca = issue.make_ca(CA_DN, now)
    rogue = issue.make_ca("/DC=org/DC=rogue/CN=Rogue CA", now)
    return Pki(now, ca, issue.issue_cert(ca, ALICE_DN, now), issue.issue_cert(ca, BOB_DN, now),
               issue.issue_cert(ca, VOMS_DN, now, server=True), rogue,
               issue.issue_cert(rogue, VOMS_DN, now, server=True))


@dataclass
class Users:
    """Fake of the lead's identity service: a name -> Principal table (records lookups)."""

    known: dict[str, Principal] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def add(self, name: str, uid: int, *roles: str) -> None:
        self.known[name] = Principal(name, uid, (name,), frozenset(roles or ("user",)))

    def __call__(self, name: str) -> Principal | None:
        self.asked.append(name)
        return self.known.get(name)


@pytest.fixture
def users() -> Users:
    table = Users()
    table.add("alice", 1)
    table.add("bob", 2)
    return table


@pytest.fixture
def audit() -> list[AuthEvent]:
    return []
