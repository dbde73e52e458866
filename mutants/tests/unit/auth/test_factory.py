from __future__ import annotations

import pytest

from stratuslab.core.errors import InvalidInput
from stratuslab.services.auth.factory import AuthConfig, build_chain


class TokenLink:
    method = "token"

    def authenticate(self, credentials):
        return None


def test_chain_follows_settings_order_and_skips_unconfigured(tmp_path, pki, users) -> None:
    (tmp_path / "pw").write_text("alice=pw,cloud-access\n")
    config = AuthConfig(chain=("x509", "password", "token", "ldap", "voms"),
                        password_file=str(tmp_path / "pw"),
                        ca_dir=str(pki.write_ca_dir(tmp_path / "ca")),
                        vomsdir=str(pki.write_vomsdir(tmp_path / "vomsdir")),
                        fqan_map={"/vo.stratuslab.eu": ["group:vo"]})
    chain = build_chain(config, resolve_user=users, extra_links={"token": TokenLink()})
    assert chain.methods == ("x509", "password", "token", "voms")  # no LDAP directory given
    assert chain.links[0].defer_voms is True


def test_unknown_method_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown methods"):
        build_chain(AuthConfig(chain=("kerberos",)), resolve_user=lambda name: None)
