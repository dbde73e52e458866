from __future__ import annotations

import pytest

from stratuslab.core.errors import InvalidInput
from stratuslab.services.auth.x509.dn import normalise_dn, to_rfc4514


def test_slash_and_rfc4514_forms_normalise_to_the_same_dn() -> None:
    slash = "/DC=eu/DC=stratuslab/O=Test/CN=Alice Example"
    assert normalise_dn("CN=Alice Example,O=Test,DC=stratuslab,DC=eu") == slash
    assert normalise_dn("cn=Alice Example, o=Test, dc=stratuslab, dc=eu") == slash
    assert to_rfc4514(slash) == "CN=Alice Example,O=Test,DC=stratuslab,DC=eu"


def test_values_may_contain_slashes_and_commas() -> None:
    assert normalise_dn("/O=Grid/CN=host/vm1.example.org") == "/O=Grid/CN=host/vm1.example.org"
    assert to_rfc4514("/O=Acme, Inc/CN=x") == "CN=x,O=Acme\\, Inc"
    assert normalise_dn("CN=x,O=Acme\\, Inc") == "/O=Acme, Inc/CN=x"


def test_garbage_is_refused() -> None:
    with pytest.raises(InvalidInput):
        normalise_dn("garbage")
