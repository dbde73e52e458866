"""Attacks on API tokens: a huge lifetime (an overflow answered 500, or a token that never
expires), and a leaked token that could not be revoked.  Lifetimes are bounded with a clear
400; `stratus token list/revoke` (REST GET/DELETE /api/v1/tokens) revoke at once, because the
token table is read on every request."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from stratuslab.cli.main import cli

ADMIN = ("admin", "adminpw")


@pytest.mark.parametrize("hours", [1e300, 10_000_000, 721, 0, -5])
def test_token_lifetime_beyond_the_bound_is_a_clear_400(cloud, hours: float) -> None:  # type: ignore[no-untyped-def]
    with TestClient(cloud.app) as client:
        answer = client.post("/api/v1/tokens", json={"ttl_hours": hours}, auth=ADMIN)
        assert answer.status_code == 400, answer.text
        assert "token lifetime" in answer.json()["error"]["message"]
        assert "at most 720 hours" in answer.json()["error"]["hint"]
        assert client.post("/api/v1/tokens", json={"ttl_hours": 720},
                           auth=ADMIN).status_code == 201


def test_revoked_token_is_refused_at_the_next_request(cloud) -> None:  # type: ignore[no-untyped-def]
    with TestClient(cloud.app) as client:
        cloud.identity.create_user(cloud.identity.check_password(*ADMIN), "tess", "tess-pw1")
        token = client.post("/api/v1/tokens", json={}, auth=("tess", "tess-pw1")).json()["token"]
        other = client.post("/api/v1/tokens", json={}, auth=("tess", "tess-pw1")).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/whoami", headers=bearer).json()["user"] == "tess"
        listed = client.get("/api/v1/tokens", auth=("tess", "tess-pw1")).json()
        assert len(listed) == 2 and all(token not in str(row) for row in listed)
        # another user can neither see nor revoke tess's tokens
        cloud.identity.create_user(cloud.identity.check_password(*ADMIN), "ulf", "ulf-pw1")
        assert client.get("/api/v1/tokens", auth=("ulf", "ulf-pw1")).json() == []
        assert client.delete(f"/api/v1/tokens/{listed[0]['id']}",
                             auth=("ulf", "ulf-pw1")).status_code == 404
        # the holder revokes the leaked one by the token itself; the other keeps working
        assert client.delete(f"/api/v1/tokens/{token}", auth=("tess", "tess-pw1")).status_code \
            == 204
        refused = client.get("/api/v1/whoami", headers=bearer)
        assert refused.status_code == 401 and "unknown or expired" in refused.text
        assert client.get("/api/v1/whoami",
                          headers={"Authorization": f"Bearer {other}"}).status_code == 200
        # an admin sees everyone's and revokes by id
        every = client.get("/api/v1/tokens", params={"all": "true"}, auth=ADMIN).json()
        [row] = [r for r in every if r["user"] == "tess"]
        assert client.delete(f"/api/v1/tokens/{row['id']}", auth=ADMIN).status_code == 204
        assert client.get("/api/v1/whoami",
                          headers={"Authorization": f"Bearer {other}"}).status_code == 401


def test_cli_token_list_and_revoke(cloud, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import httpx

    with TestClient(cloud.app) as client:
        # the real CLI over the in-process app: its httpx client is given the test transport
        monkeypatch.setattr(httpx, "Client", _bound_client(client))
        runner = CliRunner()
        base = ["--endpoint", "http://testserver", "-u", "admin", "-p", "adminpw"]
        issued = runner.invoke(cli, [*base, "token", "--ttl-hours", "2"])
        assert issued.exit_code == 0, issued.output
        listed = runner.invoke(cli, [*base, "token", "list", "--json"])
        assert listed.exit_code == 0 and issued.output.strip() not in listed.output
        import json

        [row] = json.loads(listed.output)
        revoked = runner.invoke(cli, [*base, "token", "revoke", row["id"]])
        assert revoked.exit_code == 0 and "revoked" in revoked.output
        assert json.loads(runner.invoke(cli, [*base, "token", "list", "--json"]).output) == []
        huge = runner.invoke(cli, [*base, "token", "--ttl-hours", "1e300"])
        assert huge.exit_code != 0 and "token lifetime" in huge.output


def _bound_client(test_client: TestClient):  # type: ignore[no-untyped-def]
    import httpx

    real = httpx.Client

    def make(**kw):  # type: ignore[no-untyped-def]
        kw["transport"] = test_client._transport
        return real(**kw)

    return make
