"""Attacks through VOMS attribute certificates: an AC whose VO name walks out of the vomsdir
(`../dropbox`) to a directory holding the attacker's own certificate, signed with the attacker's
key, was believed (its FQANs then granted cloud access); and two different people with
unmapped VOMS proxies shared one `vo:<vo>` account (one deleted the other's volume).

The AC's VO and host are opaque keys looked up among the vomsdir's own entries, only after the
signature is verified; an unmapped person gets an account of their own, in the VO's group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from stratuslab.core.auth import Credentials
from stratuslab.core.entities import Principal
from stratuslab.core.errors import AuthenticationFailed
from stratuslab.services.auth.certificates import VomsAuthenticator
from stratuslab.services.auth.provisioning import CloudUsers
from stratuslab.services.auth.x509 import CaDirectory, FqanMap, VomsVerifier, issue
from stratuslab.services.auth.x509.issue import AcSpec

NOW = datetime.now(UTC)
VO = "vo.stratuslab.eu"
VOMS_DN = "/DC=eu/DC=stratuslab/CN=voms.example.org"
CA_DN = "/DC=eu/DC=stratuslab/CN=Voms Test CA"
FQAN_MAP = FqanMap({f"/{VO}": ["group:vo-members", "role:cloud-access"]})


class Lab:
    def __init__(self, root: Path) -> None:
        self.ca = issue.make_ca(CA_DN, NOW)
        self.voms = issue.issue_cert(self.ca, VOMS_DN, NOW, server=True)
        self.people = {name: issue.issue_cert(self.ca, f"/DC=eu/DC=stratuslab/CN={name}", NOW)
                       for name in ("Alice Voms", "Bob Voms", "Mallory Voms")}
        (root / "certificates").mkdir()
        (root / "certificates" / "0a0b0c0d.0").write_bytes(self.ca.cert_pem())
        (root / "certificates" / "0a0b0c0d.r0").write_bytes(
            issue.make_crl(self.ca, [], NOW).public_bytes(Encoding.PEM))
        (root / "vomsdir" / VO).mkdir(parents=True)
        (root / "vomsdir" / VO / "voms.example.org.lsc").write_text(f"{VOMS_DN}\n{CA_DN}\n")
        self.trust = CaDirectory(root / "certificates", require_crl=True)
        self.verifier = VomsVerifier(root / "vomsdir")

    def proxy(self, holder: str, *, signer: issue.Issued | None = None, vo: str = VO,
              host: str = "voms.example.org") -> Credentials:
        person = self.people[holder]
        spec = AcSpec(vo, host, [f"/{VO}/Role=NULL/Capability=NULL"],
                      NOW - timedelta(minutes=5), NOW + timedelta(hours=1))
        ac = issue.make_voms_ac(signer or self.voms, person.cert, spec)
        proxy = issue.make_proxy(person, NOW, extensions=[issue.voms_extension(ac)])
        return Credentials("192.0.2.10", cert_chain=tuple(
            c.public_bytes(Encoding.DER) for c in (proxy.cert, person.cert)))


def _anyone(name: str) -> Principal:
    return Principal(name, 9, (), frozenset())


def test_ac_naming_a_vo_outside_the_vomsdir_is_not_believed(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    mallory = lab.people["Mallory Voms"]
    dropbox = tmp_path / "dropbox"  # somewhere the attacker could leave a file
    dropbox.mkdir()
    (dropbox / "me.pem").write_bytes(mallory.cert_pem())
    link = VomsAuthenticator(lab.trust, lab.verifier, FQAN_MAP, _anyone)
    for vo in ("../dropbox", "../dropbox/", str(dropbox)):
        forged = lab.proxy("Mallory Voms", signer=mallory, vo=vo)
        with pytest.raises(AuthenticationFailed, match="not trusted"):
            link.authenticate(forged)
    honest = link.authenticate(lab.proxy("Alice Voms"))
    assert honest is not None and "cloud-access" in honest.roles


def test_unmapped_voms_people_get_separate_accounts_in_the_vo_group(
        cloud, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lab = Lab(tmp_path)
    users = CloudUsers(cloud.uow, cloud.clock)
    link = VomsAuthenticator(lab.trust, lab.verifier, FQAN_MAP, users.resolver("voms"))
    alice = link.authenticate(lab.proxy("Alice Voms"))
    bob = link.authenticate(lab.proxy("Bob Voms"))
    assert alice is not None and bob is not None
    assert alice.user != bob.user and alice.user_id != bob.user_id
    assert "vo-members" in alice.groups and "vo-members" in bob.groups
    assert not alice.user.startswith("vo:") and "alice-voms" in alice.user
    again = link.authenticate(lab.proxy("Alice Voms"))
    assert again is not None and again.user_id == alice.user_id  # stable across logins
