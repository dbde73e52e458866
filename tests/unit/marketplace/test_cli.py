"""CLI commands against a real marketplace served by uvicorn on 127.0.0.1 (thread)."""

from __future__ import annotations

import resource
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from tests.helpers.pki import Identity
from tests.helpers.waits import wait_until

from stratuslab.api.marketplace import create_app
from stratuslab.cli import marketplace as marketplace_cli
from stratuslab.cli.marketplace import COMMANDS
from stratuslab.core.marketplace import PolicyRefused
from stratuslab.drivers.storage.marketfetch import MetadataClient
from stratuslab.persistence.marketplace import SqlMarketplaceRepository, open_database, sqlite_url
from stratuslab.services.marketplace import ImageGate, MarketplaceService, TrustPolicy, TrustStore


@pytest.fixture(scope="module")
def marketplace(tmp_path_factory: pytest.TempPathFactory, trust: TrustStore) -> Iterator[str]:
    engine = open_database(sqlite_url(tmp_path_factory.mktemp("mpdb")))
    app = create_app(MarketplaceService(SqlMarketplaceRepository(engine), trust), max_body=1024**2)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=30, message="the marketplace never started")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def stratus() -> click.Group:
    group = click.Group("stratus")
    for command in COMMANDS:
        group.add_command(command)
    return group


def run(stratus: click.Group, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(stratus, list(args))
    return result.exit_code, result.output


def test_build_sign_validate_upload_deprecate_flow(
    stratus: click.Group, marketplace: str, tmp_path: Path, ca: Identity, alice: Identity,
    trust: TrustStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = tmp_path / "tiny.img.gz"
    image.write_bytes(b"\x1f\x8b fake gz bytes for the metadata only")
    (tmp_path / "alice.p12").write_bytes(alice.p12("pw", ca))
    cadir = tmp_path / "certificates"
    cadir.mkdir()
    (cadir / "0a1b2c3d.0").write_bytes(ca.cert_pem)

    code, out = run(stratus, "build-metadata", str(image), "--location", "http://127.0.0.1:1/t.gz",
                    "--email", "alice@example.org", "--os", "debian", "--tag", "tiny")
    assert code == 0, out
    meta = out.strip()
    assert meta == f"{image}.xml"
    code, out = run(stratus, "sign-metadata", meta, "--p12-cert", str(tmp_path / "alice.p12"),
                    "--p12-password", "pw")
    assert code == 0, out
    code, out = run(stratus, "validate-metadata", meta, "--ca-dir", str(cadir))
    assert code == 0 and out.startswith("valid: ") and "RSA-SHA256" in out, out

    code, out = run(stratus, "upload-metadata", meta, "--marketplace", marketplace)
    assert code == 0, out
    url = out.strip()
    assert url.startswith(f"{marketplace}/metadata/") and "/alice@example.org/" in url
    assert httpx.get(url).content == Path(meta).read_bytes()
    ident = url.split("/metadata/")[1].split("/")[0]

    code, out = run(stratus, "upload-metadata", meta, "--marketplace", marketplace)
    assert code == 4 and out.startswith("Error: ") and "already stored" in out  # conflict

    code, out = run(stratus, "search-image", "--os", "debian", "--marketplace", marketplace)
    assert code == 0 and ident in out
    code, out = run(stratus, "policy-image", ident, "--marketplace", marketplace)
    assert code == 0 and "allowed" in out
    gate = ImageGate(trust, TrustPolicy())
    entry, verdict = gate.admit(ident, MetadataClient(marketplace).documents(ident))
    assert verdict.allowed and entry.tags == ("tiny",)

    # the deprecation must carry a later creation second than the entry: instead of waiting for
    # the next second, the signing machine's clock (a fake) runs one second ahead from here on
    monkeypatch.setattr(marketplace_cli, "_now", lambda: datetime.now(UTC) + timedelta(seconds=1))
    code, out = run(stratus, "deprecate-metadata", ident, "--email", "alice@example.org",
                    "--reason", "broken", "--p12-cert", str(tmp_path / "alice.p12"),
                    "--p12-password", "pw", "--marketplace", marketplace)
    assert code == 0, out
    code, out = run(stratus, "list-images", "--marketplace", marketplace)
    assert code == 0 and ident not in out
    code, out = run(stratus, "list-images", "--status", "deprecated", "--marketplace", marketplace)
    assert ident in out
    code, out = run(stratus, "policy-image", ident, "--marketplace", marketplace)
    assert code == 5 and "deprecated: broken" in out and "Error: " in out  # denied
    assert "admit it in the [policy] section" in out
    with pytest.raises(PolicyRefused, match="deprecated: broken"):
        gate.admit(ident, MetadataClient(marketplace).documents(ident))


def test_invalid_file_is_reported_as_error(stratus: click.Group, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<not-rdf/>")
    code, out = run(stratus, "validate-metadata", str(bad), "--ca-dir", str(tmp_path))
    assert code == 2 and out.startswith("Error: invalid metadata:")  # bad input


def test_unreachable_marketplace_is_reported(stratus: click.Group) -> None:
    code, out = run(stratus, "list-images", "--marketplace", "http://127.0.0.1:9")
    assert code == 6 and "cannot reach the marketplace" in out  # unavailable


def test_two_gigabyte_body_is_refused_after_the_limit(marketplace: str) -> None:
    sent = 0
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB; server is in-process

    def body() -> Iterator[bytes]:
        nonlocal sent
        chunk = b" " * (1024 * 1024)
        for _ in range(2048):  # 2 GiB, chunked: no Content-Length to refuse it up front
            sent += len(chunk)
            yield chunk

    try:
        resp = httpx.post(f"{marketplace}/metadata", content=body(), timeout=60)
        assert resp.status_code == 413
    except httpx.HTTPError:
        pass  # the server may close the connection while we are still sending
    assert sent < 2 * 1024**3, "the server read the whole 2 GiB body"
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert grown_kib < 256 * 1024  # never anywhere near the 2 GiB body
    listing = httpx.get(f"{marketplace}/metadata", params={"status": "all"},
                        headers={"Accept": "application/json"}).json()
    assert all(e["email"] == "alice@example.org" for e in listing["entries"])


def test_default_marketplace_is_under_the_cloud_endpoint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from stratuslab.cli.marketplace import marketplace_url

    monkeypatch.setenv("STRATUSLAB_CONFIG", str(tmp_path / "none.cfg"))
    monkeypatch.setenv("STRATUSLAB_ENDPOINT", "http://cloud.example:8080/")
    monkeypatch.delenv("STRATUSLAB_MARKETPLACE_ENDPOINT", raising=False)
    ctx = click.Context(click.Command("x"))
    assert marketplace_url(ctx, None) == "http://cloud.example:8080/marketplace"
    monkeypatch.setenv("STRATUSLAB_MARKETPLACE_ENDPOINT", "https://mp.example/marketplace/")
    assert marketplace_url(ctx, None) == "https://mp.example/marketplace"
    assert marketplace_url(ctx, "http://x/") == "http://x"
