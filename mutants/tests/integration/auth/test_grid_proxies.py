"""Proxies made by Debian's grid-proxy-init and voms-proxy-fake, verified by our chain."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from stratuslab.core.auth import Credentials
from stratuslab.core.entities import Principal
from stratuslab.core.errors import AuthenticationFailed
from stratuslab.services.auth.certificates import GridmapFile, VomsAuthenticator, X509Authenticator
from stratuslab.services.auth.chain import AuthenticatorChain, AuthEvent
from stratuslab.services.auth.x509 import CaDirectory, FqanMap, VomsVerifier

pytestmark = pytest.mark.integration


def resolve(name: str) -> Principal | None:
    return Principal(name, 11, (), frozenset({"user"})) if name == "alice" else None


def chain_credentials(path: Path) -> Credentials:
    certs = x509.load_pem_x509_certificates(path.read_bytes())
    return Credentials(source="127.0.0.1",
                       cert_chain=tuple(c.public_bytes(Encoding.DER) for c in certs))


@pytest.fixture
def chain(disk_pki, tmp_path) -> tuple[AuthenticatorChain, list[AuthEvent]]:
    gridmap = tmp_path / "grid-mapfile"
    gridmap.write_text('"/DC=eu/DC=stratuslab/O=Test/CN=Alice Example" alice\n')
    ca_dir, mapper = CaDirectory(disk_pki.ca_dir), GridmapFile(gridmap)
    fqans = FqanMap({"/vo.stratuslab.eu": ["group:vo.stratuslab.eu"],
                     "/vo.stratuslab.eu/cloud/Role=admin": ["role:admin"]})
    audit: list[AuthEvent] = []
    return AuthenticatorChain([
        X509Authenticator(ca_dir, mapper, resolve, defer_voms=True),
        VomsAuthenticator(ca_dir, VomsVerifier(disk_pki.vomsdir), fqans, resolve,
                          dn_mapper=mapper),
    ], audit.append), audit


@pytest.mark.parametrize("kind", ["rfc", "legacy"])
def test_grid_proxy_init_proxies_authenticate_as_the_user(proxy_files, chain, kind) -> None:
    authenticator, _ = chain
    principal = authenticator.authenticate(chain_credentials(getattr(proxy_files, kind)))
    assert (principal.user, principal.method) == ("alice", "proxy")


def test_voms_proxy_fake_proxy_maps_fqans(proxy_files, chain) -> None:
    authenticator, audit = chain
    principal = authenticator.authenticate(chain_credentials(proxy_files.voms))
    assert principal.method == "voms" and principal.is_admin
    assert "vo.stratuslab.eu" in principal.groups
    assert audit[-1].identity == "/DC=eu/DC=stratuslab/O=Test/CN=Alice Example"


@pytest.mark.parametrize("kind,reason", [("voms_expired", "is valid only from"),
                                         ("voms_untrusted", "Rogue CA, which is not trusted")])
def test_bad_voms_proxies_from_the_tools_fail(proxy_files, chain, kind, reason) -> None:
    authenticator, audit = chain
    with pytest.raises(AuthenticationFailed, match=reason):
        authenticator.authenticate(chain_credentials(getattr(proxy_files, kind)))
    assert not audit[-1].success and audit[-1].method == "voms"
