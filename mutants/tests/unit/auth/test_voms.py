"""VOMS proxies: AC signature, trust (.lsc), validity, holder, and FQAN mapping."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from stratuslab.core.auth import Credentials
from stratuslab.core.errors import AuthenticationFailed
from stratuslab.services.auth.certificates import GridmapFile, VomsAuthenticator, X509Authenticator
from stratuslab.services.auth.chain import AuthenticatorChain
from stratuslab.services.auth.x509 import CaDirectory, FqanMap, VomsVerifier, issue
from stratuslab.services.auth.x509.issue import AcSpec

FQANS = ["/vo.stratuslab.eu/Role=NULL/Capability=NULL",
         "/vo.stratuslab.eu/cloud/Role=admin/Capability=NULL"]
TABLE = FqanMap({"/vo.stratuslab.eu": ["group:vo.stratuslab.eu"],
                 "/vo.stratuslab.eu/cloud/Role=admin": ["role:admin"]})


def voms_proxy(pki, *, server=None, holder=None, start=None, end=None, fqans=FQANS):
    spec = AcSpec(pki.VO, "voms.example.org", fqans,
                  start or pki.now - timedelta(minutes=5), end or pki.now + timedelta(hours=1))
    ac = issue.make_voms_ac(server or pki.voms, (holder or pki.alice).cert, spec)
    proxy = issue.make_proxy(pki.alice, pki.now, extensions=[issue.voms_extension(ac)])
    return Credentials(source="192.0.2.7", cert_chain=pki.der(proxy.cert, pki.alice.cert))


@pytest.fixture
def chain(pki, tmp_path: Path, users, audit) -> AuthenticatorChain:
    ca_dir = CaDirectory(pki.write_ca_dir(tmp_path / "certificates"))
    gridmap = tmp_path / "grid-mapfile"
    gridmap.write_text(f'"{pki.ALICE_DN}" alice\n')
    mapper = GridmapFile(gridmap)
    clock = lambda: pki.now  # noqa: E731
    verifier = VomsVerifier(pki.write_vomsdir(tmp_path / "vomsdir"))
    return AuthenticatorChain([
        X509Authenticator(ca_dir, mapper, users, clock=clock, defer_voms=True),
        VomsAuthenticator(ca_dir, verifier, TABLE, users, dn_mapper=mapper, clock=clock),
    ], audit.append)


def test_voms_proxy_maps_fqans_to_groups_and_roles(pki, chain, audit) -> None:
    principal = chain.authenticate(voms_proxy(pki))
    assert principal.user == "alice" and principal.method == "voms"
    assert "vo.stratuslab.eu" in principal.groups and principal.is_admin
    assert audit[-1].success and audit[-1].method == "voms"


def test_plain_proxy_still_goes_to_the_x509_link(pki, chain) -> None:
    proxy = issue.make_proxy(pki.alice, pki.now)
    principal = chain.authenticate(Credentials(cert_chain=pki.der(proxy.cert, pki.alice.cert)))
    assert principal.method == "proxy" and not principal.is_admin


@pytest.mark.parametrize("case,reason", [
    ("untrusted_server", "is not signed by|does not match|not trusted"),
    ("expired_ac", "is valid only from"),
    ("other_holder", "belongs to another certificate"),
    ("unmapped_vo", "is not accepted here"),
])
def test_bad_voms_proxies_fail_with_an_audit_line(pki, chain, audit, case, reason) -> None:
    creds = {
        "untrusted_server": lambda: voms_proxy(pki, server=pki.rogue_voms),
        "expired_ac": lambda: voms_proxy(pki, start=pki.now - timedelta(hours=3),
                                         end=pki.now - timedelta(hours=1)),
        "other_holder": lambda: voms_proxy(pki, holder=pki.bob),
        "unmapped_vo": lambda: voms_proxy(pki, fqans=["/other.vo/Role=NULL"]),
    }[case]()
    with pytest.raises(AuthenticationFailed, match=reason):
        chain.authenticate(creds)
    assert not audit[-1].success and audit[-1].method == "voms"
    assert audit[-1].source == "192.0.2.7" and audit[-1].identity.endswith("CN=Alice Example")


def test_ac_from_a_server_without_lsc_is_untrusted(pki, chain, tmp_path) -> None:
    (tmp_path / "vomsdir" / pki.VO / "voms.example.org.lsc").unlink()
    with pytest.raises(AuthenticationFailed, match="is not trusted here"):
        chain.authenticate(voms_proxy(pki))


def test_lsc_naming_another_ca_refuses_the_server(pki, chain, tmp_path) -> None:
    (tmp_path / "vomsdir" / pki.VO / "voms.example.org.lsc").write_text(
        f"{pki.VOMS_DN}\n/DC=org/DC=rogue/CN=Rogue CA\n")
    with pytest.raises(AuthenticationFailed, match="does not match"):
        chain.authenticate(voms_proxy(pki))


def test_fqan_map_wildcard_matches_subgroups() -> None:
    table = FqanMap({"/vo/*": ["group:vo-members"], "/vo/admins/Role=NULL": ["role:admin"]})
    assert table.map(["/vo/physics", "/vo/admins"]) == (("vo-members",), frozenset({"admin"}))
