from __future__ import annotations

import logging

import pytest

from stratuslab.core.auth import Credentials
from stratuslab.core.entities import Principal
from stratuslab.core.errors import AuthenticationFailed, Unavailable
from stratuslab.services.auth.chain import AUDIT_LOGGER, AuthenticatorChain


class FakeLink:
    """A scripted authenticator: returns or raises what it was given, records calls."""

    def __init__(self, method: str, result: Principal | Exception | None):
        self.method, self.result, self.calls = method, result, 0

    def authenticate(self, credentials: Credentials) -> Principal | None:
        self.calls += 1
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


ALICE = Principal("alice", 1, roles=frozenset({"user"}), method="ldap")


def test_first_link_that_knows_the_credentials_wins(audit) -> None:
    skip, hit, after = FakeLink("password", None), FakeLink("ldap", ALICE), FakeLink("x", None)
    chain = AuthenticatorChain([skip, hit, after], audit.append)
    assert chain.authenticate(Credentials(username="alice", password="pw")) is ALICE
    assert (skip.calls, hit.calls, after.calls) == (1, 1, 0)
    assert audit[-1].line() == ("auth success method=ldap identity='alice' source=unknown "
                                "user=alice")


def test_a_wrong_password_stops_the_walk(audit) -> None:
    wrong = FakeLink("password", AuthenticationFailed("wrong password for user alice"))
    later = FakeLink("ldap", ALICE)
    chain = AuthenticatorChain([wrong, later], audit.append)
    with pytest.raises(AuthenticationFailed):
        chain.authenticate(Credentials(username="alice", password="pw"))
    assert later.calls == 0 and audit[-1].reason == "wrong password for user alice"


def test_unavailable_backend_lets_other_links_try_then_surfaces(audit) -> None:
    down = FakeLink("ldap", Unavailable("LDAP ldap://x is unreachable"))
    chain = AuthenticatorChain([down, FakeLink("x509", None)], audit.append)
    with pytest.raises(Unavailable):
        chain.authenticate(Credentials(username="alice", password="pw"))
    chain = AuthenticatorChain([down, FakeLink("password", ALICE)], audit.append)
    assert chain.authenticate(Credentials(username="alice", password="pw")) is ALICE


def test_nobody_accepting_fails_and_names_the_methods(audit) -> None:
    chain = AuthenticatorChain([FakeLink("password", None)], audit.append)
    with pytest.raises(AuthenticationFailed, match="no credentials") as err:
        chain.authenticate(Credentials(source="198.51.100.1"))
    assert "this cloud accepts: password" in err.value.full_message
    assert audit[-1].method == "none" and audit[-1].source == "198.51.100.1"


def test_default_audit_writes_to_the_audit_logger(caplog) -> None:
    chain = AuthenticatorChain([FakeLink("password", AuthenticationFailed("wrong password"))])
    with caplog.at_level(logging.INFO, logger=AUDIT_LOGGER), pytest.raises(AuthenticationFailed):
        chain.authenticate(Credentials(source="127.0.0.1", username="mallory", password="x"))
    assert any("auth failure method=password identity='mallory' source=127.0.0.1" in r.message
               for r in caplog.records if r.name == AUDIT_LOGGER)
