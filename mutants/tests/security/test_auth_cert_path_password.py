"""Attack: send a password to a certificate-only path.

`/cert/...` answered 401 to a password, but the pdisk spelling `/pdisk/cert/...` (what the old
pdisk client uses with `pdisk_endpoint` ending in `/cert`) served the request on HTTP Basic over
plain HTTP.  Every `/cert` path authenticates by certificate only; `/pswd` paths by password
only."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_password_sent_to_pdisk_cert_path_is_refused(cloud) -> None:  # type: ignore[no-untyped-def]
    with TestClient(cloud.app) as client:
        assert client.get("/pdisk/disks", auth=("admin", "adminpw")).status_code == 200
        for path in ("/pdisk/cert/disks", "/cert/pdisk/disks", "/cert/api/v1/whoami"):
            answer = client.get(path, auth=("admin", "adminpw"))
            assert answer.status_code == 401, (path, answer.text)
        assert client.get("/pdisk/pswd/disks", auth=("admin", "adminpw")).status_code == 200


def test_token_sent_to_password_path_is_not_taken(cloud) -> None:  # type: ignore[no-untyped-def]
    with TestClient(cloud.app) as client:
        token = client.post("/api/v1/tokens", json={}, auth=("admin", "adminpw")).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/whoami", headers=bearer).status_code == 200
        assert client.get("/pdisk/pswd/disks", headers=bearer).status_code == 401
        assert client.get("/pdisk/cert/disks", headers=bearer).status_code == 401


def test_malformed_basic_header_is_refused_on_every_api(cloud) -> None:  # type: ignore[no-untyped-def]
    bad = {"Authorization": "Basic %%%not-base64"}
    with TestClient(cloud.app) as client:
        rest = client.get("/api/v1/whoami", headers=bad)
        assert rest.status_code == 401 and "not valid HTTP Basic" in rest.text
        occi = client.get("/occi/compute/", headers=bad)
        assert occi.status_code == 401 and "not valid HTTP Basic" in occi.text
        pdisk = client.get("/pdisk/disks", headers=bad)
        assert pdisk.status_code == 401
