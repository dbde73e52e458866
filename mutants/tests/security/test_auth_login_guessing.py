"""Attacks on password login: telling existing user names from unknown ones (by the message or
by the work done), and guessing passwords without limit.

Every API that takes a password goes through the one authenticator chain: the answer to an
unknown user and to a wrong password is the same, both cost one argon2 verification (a dummy
hash for the unknown name), and failures are counted per user name and per client address in
one place, so REST, XML-RPC, OCCI and `/pswd` share the backoff."""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path

import argon2
import pytest
from fastapi.testclient import TestClient
from tests.helpers.cloud import make_settings, seed_data_dir

from stratuslab.bootstrap import Cloud, build_cloud

ADMIN = ("admin", "adminpw")


@pytest.fixture
def throttled(tmp_path: Path, template_db: Path) -> Iterator[Cloud]:
    """A cloud that pauses a user after 2 failures and an address after 4, for an hour (long
    enough that no test can outlive it: no timing assumptions)."""
    settings = make_settings(tmp_path, auth={"throttle": {
        "user_failures": 2, "address_failures": 4, "first_pause": 3600}})
    seed_data_dir(tmp_path, template_db)
    c = build_cloud(settings)
    c.identity.ensure_admin("adminpw")
    c.identity.create_user(c.identity.check_password(*ADMIN), "gina", "gina-pw1")
    c.identity.create_user(c.identity.check_password(*ADMIN), "hugo", "hugo-pw1")
    yield c
    c.stop()


def _xmlrpc(client: TestClient, user: str, password: str) -> list[object]:
    call = xmlrpc.client.dumps((f"{user}:{password}", -3, -1, -1, -1), "one.vmpool.info")
    answer = client.post("/RPC2", content=call, headers={"content-type": "text/xml"})
    (result,), _ = xmlrpc.client.loads(answer.content)
    return list(result)


def test_unknown_user_and_wrong_password_answer_alike_on_every_api(cloud) -> None:  # type: ignore[no-untyped-def]
    with TestClient(cloud.app) as client:
        wrong = client.get("/api/v1/whoami", auth=("admin", "not-the-password"))
        unknown = client.get("/api/v1/whoami", auth=("nobody-here", "not-the-password"))
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json()
        assert "unknown user name or wrong password" in wrong.json()["error"]["message"]
        assert "admin" not in wrong.text and "nobody-here" not in unknown.text
        rpc_wrong = _xmlrpc(client, "admin", "not-the-password")
        rpc_unknown = _xmlrpc(client, "nobody-here", "not-the-password")
        assert rpc_wrong == rpc_unknown and rpc_wrong[0] is False
        occi_wrong = client.get("/occi/compute/", auth=("admin", "x"))
        occi_unknown = client.get("/occi/compute/", auth=("nobody-here", "x"))
        assert occi_wrong.status_code == occi_unknown.status_code == 401
        assert occi_wrong.text == occi_unknown.text


def test_unknown_user_costs_one_hash_verification_like_a_wrong_password(
        cloud, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls: list[str] = []
    real = argon2.PasswordHasher.verify

    def counting(self, hash, password):  # type: ignore[no-untyped-def]
        calls.append(password)
        return real(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting)  # a spy on the library
    with TestClient(cloud.app) as client:
        client.get("/api/v1/whoami", auth=("admin", "wrong-1"))
        wrong = calls.count("wrong-1")
        client.get("/api/v1/whoami", auth=("nobody-here", "wrong-2"))
        unknown = calls.count("wrong-2")
    assert wrong == unknown == 1


def test_password_guessing_is_paused_per_user_and_per_address_across_apis(
        throttled: Cloud) -> None:
    with TestClient(throttled.app) as client:
        # two failures for gina, through two different APIs
        assert client.get("/api/v1/whoami", auth=("gina", "guess-1")).status_code == 401
        assert _xmlrpc(client, "gina", "guess-2")[0] is False
        # now even her right password is paused, on a third API and at /pswd
        paused = client.get("/occi/compute/", auth=("gina", "gina-pw1"))
        assert paused.status_code == 401 and "too many failed logins" in paused.text
        again = client.get("/pswd/api/v1/whoami", auth=("gina", "gina-pw1"))
        assert again.status_code == 401 and "too many failed logins" in again.text
        # hugo is not paused by gina's failures
        assert client.get("/api/v1/whoami", auth=("hugo", "hugo-pw1")).status_code == 200
        # guessing across many names from one address pauses the address
        for name in ("ivan", "jane"):
            assert client.get("/api/v1/whoami", auth=(name, "guess")).status_code == 401
        blocked = client.get("/api/v1/whoami", auth=("hugo", "hugo-pw1"))
        assert blocked.status_code == 401 and "too many failed logins for address" in \
            blocked.text
