"""REST API over a real SQLite file (TestClient)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from tests.helpers.marketdocs import NOW, creds, signed, unsigned
from tests.helpers.pki import Identity

from stratuslab.api.marketplace import create_app
from stratuslab.persistence.marketplace import SqlMarketplaceRepository, open_database, sqlite_url
from stratuslab.services.marketplace import MarketplaceService, TrustStore, xmldsig
from stratuslab.services.marketplace.policy import PolicyLists, TrustPolicy


def _client(tmp: Path, trust: TrustStore, **policy: list[str]) -> TestClient:
    engine = open_database(sqlite_url(tmp))
    service = MarketplaceService(SqlMarketplaceRepository(engine), trust,
                                 policy=TrustPolicy(PolicyLists.of(**policy)), clock=lambda: NOW)
    return TestClient(create_app(service, max_body=64 * 1024))


@pytest.fixture()
def client(tmp_path: Path, trust: TrustStore) -> Iterator[TestClient]:
    with _client(tmp_path, trust) as c:
        yield c


XML = {"Content-Type": "application/rdf+xml"}
JSON = {"Accept": "application/json"}


def test_upload_answers_201_with_location_and_original_comes_back_exact(
    client: TestClient, alice: Identity
) -> None:
    doc = signed(alice)
    resp = client.post("/metadata", content=doc, headers=XML)
    assert resp.status_code == 201, resp.text
    location = resp.headers["Location"]
    ident = etree.fromstring(doc).find(".//{http://purl.org/dc/terms/}identifier").text
    assert location.endswith(f"/metadata/{ident}/alice@example.org/{NOW:%Y-%m-%dT%H:%M:%SZ}")
    original = client.get(location)
    assert original.status_code == 200
    assert original.headers["content-type"].startswith("application/xml")
    assert original.content == doc


def test_invalid_metadata_answers_400_with_reason(client: TestClient) -> None:
    resp = client.post("/metadata", content=unsigned(), headers=XML)
    assert resp.status_code == 400
    assert resp.text.startswith("invalid metadata: no signature")


def test_tampered_upload_is_refused_and_not_stored(client: TestClient, alice: Identity) -> None:
    resp = client.post("/metadata", content=signed(alice).replace(b"Tiny", b"Huge"), headers=XML)
    assert resp.status_code == 400 and "signature does not match" in resp.text
    assert client.get("/metadata", headers=JSON).json()["total"] == 0


def test_older_upload_than_latest_is_refused(client: TestClient, alice: Identity) -> None:
    newer = signed(alice, when=NOW)
    older = signed(alice, when=NOW - timedelta(hours=1))
    assert client.post("/metadata", content=newer, headers=XML).status_code == 201
    resp = client.post("/metadata", content=older, headers=XML)
    assert resp.status_code == 409
    assert "older than the latest" in resp.text
    assert client.post("/metadata", content=newer, headers=XML).status_code == 409


def test_history_is_kept_and_default_query_shows_latest_only(client: TestClient, alice: Identity) -> None:
    first = signed(alice, when=NOW - timedelta(hours=2))
    second = signed(alice, when=NOW - timedelta(hours=1))
    for doc in (first, second):
        assert client.post("/metadata", content=doc, headers=XML).status_code == 201
    latest = client.get("/metadata", headers=JSON).json()
    assert latest["total"] == 1
    assert latest["entries"][0]["created"] == f"{NOW - timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}"
    assert client.get("/metadata", params={"status": "all"}, headers=JSON).json()["total"] == 2
    ident = latest["entries"][0]["identifier"]
    history = client.get("/endorsers/alice@example.org", headers=JSON).json()
    assert history["entries"] == 2 and len(history["history"]) == 2
    assert client.get(f"/metadata/{ident}/alice@example.org/"
                      f"{NOW - timedelta(hours=2):%Y-%m-%dT%H:%M:%SZ}").content == first


def test_oversized_body_is_refused_without_being_stored(client: TestClient) -> None:
    resp = client.post("/metadata", content=b"<x>" + b" " * (70 * 1024) + b"</x>", headers=XML)
    assert resp.status_code == 413
    assert "larger than the limit" in resp.text


def test_declared_huge_body_is_refused_before_reading(client: TestClient) -> None:
    def body() -> Iterator[bytes]:
        yield b"<x/>"

    headers = {**XML, "Content-Length": str(2 * 1024**3)}
    resp = client.post("/metadata", content=body(), headers=headers)
    assert resp.status_code == 413
    assert "2147483648 bytes" in resp.text


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, trust: TrustStore, alice: Identity,
           bob: Identity) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A marketplace with valid, expired and deprecated entries of several OSes and endorsers."""
    with _client(tmp_path_factory.mktemp("mp"), trust,
                 endorsers_blacklist=["bob@example.org"]) as c:
        docs = {
            "debian": signed(alice, b"debian", os="debian", tags=("tiny",), description="small"),
            "centos": signed(bob, b"centos", os="centos", arch="i686", email="bob@example.org",
                             title="CentOS"),
            "disk": signed(alice, b"iso", os="none", kind="disk", title="Data ISO"),
            "expired": signed(alice, b"old", os="debian", valid_until=NOW - timedelta(days=1),
                              title="Old Debian"),
            "deprecated": xmldsig.sign_document(
                xmldsig.mark_deprecated(signed(alice, b"bad", os="ubuntu"), "broken"),
                creds(alice), now=NOW),
        }
        ids = {}
        for name, doc in docs.items():
            resp = c.post("/metadata", content=doc, headers=XML)
            assert resp.status_code == 201, resp.text
            ids[name] = resp.headers["Location"].split("/metadata/")[1].split("/")[0]
        yield c, ids


@pytest.mark.parametrize("params,expected", [
    ({}, {"debian", "centos", "disk"}),
    ({"status": "expired"}, {"expired"}),
    ({"status": "deprecated"}, {"deprecated"}),
    ({"status": "all"}, {"debian", "centos", "disk", "expired", "deprecated"}),
    ({"endorser": "bob@example.org"}, {"centos"}),
    ({"os": "debian"}, {"debian"}),
    ({"arch": "i686"}, {"centos"}),
    ({"kind": "disk"}, {"disk"}),
    ({"tag": "tiny"}, {"debian"}),
    ({"q": "centos"}, {"centos"}),
    ({"q": "DATA iso"}, {"disk"}),
    ({"q": "small tiny"}, {"debian"}),
    ({"q": "nothing-like-this"}, set()),
])
def test_query_filters(loaded: tuple[TestClient, dict[str, str]], params: dict[str, str],
                       expected: set[str]) -> None:
    client, ids = loaded
    names = {v: k for k, v in ids.items()}
    found = client.get("/metadata", params=params, headers=JSON).json()["entries"]
    assert {names[e["identifier"]] for e in found} == expected


def test_paging_returns_total_and_slices(loaded: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = loaded
    first = client.get("/metadata", params={"limit": 2}, headers=JSON).json()
    rest = client.get("/metadata", params={"limit": 2, "offset": 2}, headers=JSON).json()
    assert first["total"] == 3 and len(first["entries"]) == 2 and len(rest["entries"]) == 1


def test_xml_listing_holds_the_signed_originals(loaded: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = loaded
    resp = client.get(f"/metadata/{ids['debian']}")
    assert resp.headers["content-type"].startswith("application/xml")
    root = etree.fromstring(resp.content)
    assert root.tag == "metadata" and len(root) == 1
    assert root[0].find("{http://www.w3.org/2000/09/xmldsig#}Signature") is not None


def test_unknown_image_answers_404(loaded: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = loaded
    resp = client.get("/metadata/" + "A" * 27)
    assert resp.status_code == 404 and "does not exist" in resp.text


def test_endorsers_list_names_subjects(loaded: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = loaded
    data = client.get("/endorsers", headers=JSON).json()["endorsers"]
    assert [e["email"] for e in data] == ["alice@example.org", "bob@example.org"]
    assert data[1]["subject"] == "CN=Bob Example,O=Test,DC=stratuslab,DC=eu"
    assert b"<endorsers>" in client.get("/endorsers").content


def test_policy_explains_blacklisted_endorser(loaded: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = loaded
    data = client.get(f"/policy/{ids['centos']}").json()
    assert data["allowed"] is False
    assert data["verdicts"][0]["reasons"] == ["endorser bob@example.org is blacklisted"]
    expired = client.get(f"/policy/{ids['expired']}").json()
    assert "expired on" in expired["verdicts"][0]["reasons"][0]


def test_html_view_uses_relative_links(loaded: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = loaded
    page = client.get("/metadata", headers={"Accept": "text/html"}).text
    assert f'href="metadata/{ids["debian"]}/alice@example.org/' in page
    assert 'href="/' not in page
    entry = client.get(f"/metadata/{ids['debian']}", params={"format": "html"}).text
    assert "Tiny Debian" in entry and 'href="../metadata/' in entry


def test_mounted_under_marketplace_locations_and_links_follow_the_mount(
    tmp_path: Path, trust: TrustStore, alice: Identity
) -> None:
    from fastapi import FastAPI

    outer = FastAPI()
    engine = open_database(sqlite_url(tmp_path))
    service = MarketplaceService(SqlMarketplaceRepository(engine), trust, clock=lambda: NOW)
    outer.mount("/marketplace", create_app(service))
    with TestClient(outer) as c:
        resp = c.post("/marketplace/metadata", content=signed(alice), headers=XML)
        assert resp.status_code == 201
        assert "/marketplace/metadata/" in resp.headers["Location"]
        assert c.get(resp.headers["Location"]).status_code == 200
        home = c.get("/marketplace", follow_redirects=False)
        assert home.status_code == 307 and home.headers["location"].endswith("/marketplace/")
        assert 'action="metadata"' in c.get("/marketplace/").text


def test_standalone_marketplace_reads_the_servers_settings_sections(tmp_path: Path) -> None:
    from stratuslab.bootstrap.marketplace_server import policy_lists
    from stratuslab.settings import load_settings

    config = tmp_path / "stratuslab.toml"
    config.write_text(f"""
[server]
data_dir = "{tmp_path}"
[marketplace]
ca_dir = "{tmp_path}"
max_body = 1000
listen = "127.0.0.1:9999"
[policy]
endorsers_whitelist = ["A@x.org"]
images_blacklist = ["id1", "id2"]
""")
    settings = load_settings(str(config), env={})
    lists = policy_lists(settings)
    assert lists.endorsers_whitelist == frozenset({"a@x.org"})
    assert lists.images_blacklist == frozenset({"id1", "id2"})
    assert settings.marketplace.max_body == 1000 and settings.data_dir == tmp_path
    assert settings.marketplace.listen == "127.0.0.1:9999"


def test_endorsement_dated_in_the_future_is_refused(client: TestClient, alice: Identity) -> None:
    resp = client.post("/metadata", content=signed(alice, when=NOW + timedelta(days=30)), headers=XML)
    assert resp.status_code == 400 and "is in the future" in resp.text
