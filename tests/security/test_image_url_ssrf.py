"""Attack: server-side request forgery through image import from a URL — make the server fetch its
own loopback endpoints, the cloud metadata address or the private network, tell targets apart by
the error, follow a redirect into them, or stream an endless body while a worker thread waits.

Downloads run as jobs; every hop is resolved once and checked (loopback, private, link-local and
other non-public addresses refused unless `[images] url_allow_hosts` names the host); bytes and
time are capped; one message for every failure.  Tests serve images on loopback, so they name
127.0.0.1 in the allow-list — except the one that proves loopback is refused without it."""

from __future__ import annotations

import http.server
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.cloud import drain, make_settings, own_database, seed_data_dir
from tests.helpers.net import serve_http

from stratuslab.bootstrap import Cloud, build_cloud
from stratuslab.core.entities import Principal
from stratuslab.core.errors import InvalidInput
from stratuslab.drivers.storage.urlfetch import FetchLimits, UrlFetcher, is_public

IMAGE = b"\xeb\x63\x90" + b"\x00" * 8189


class Handler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []
    redirect_to = ""

    def do_GET(self) -> None:
        Handler.hits.append(self.path)
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", Handler.redirect_to)
            self.end_headers()
            return
        if self.path.startswith("/missing"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(IMAGE)))
        self.end_headers()
        self.wfile.write(IMAGE)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def server() -> Iterator[str]:
    Handler.hits = []
    with serve_http(Handler) as url:
        yield url


def make_cloud(tmp_path: Path, template: Path, *, server: dict[str, str] | None = None,
               **images: Any) -> Iterator[tuple[Cloud, Principal]]:
    if not server:  # an own database (PostgreSQL runs) starts empty: no template, no reset
        seed_data_dir(tmp_path, template)
    cloud = build_cloud(make_settings(tmp_path, images=images, server=server or {}))
    cloud.identity.ensure_admin("adminpw")
    admin = cloud.identity.check_password("admin", "adminpw")
    cloud.identity.create_user(admin, "mallory", "mallorypw1")
    try:
        yield cloud, cloud.identity.check_password("mallory", "mallorypw1")
    finally:
        cloud.stop()


@pytest.fixture
def strict(tmp_path: Path, template_db: Path) -> Iterator[tuple[Cloud, Principal]]:
    # a test may hold both clouds: on PostgreSQL runs this one has a database of its own
    yield from make_cloud(tmp_path / "strict", template_db, server=own_database("ssrf_strict"))


@pytest.fixture
def allowing(tmp_path: Path, template_db: Path) -> Iterator[tuple[Cloud, Principal]]:
    yield from make_cloud(tmp_path / "allowing", template_db, url_allow_hosts=["127.0.0.1"],
                          url_max_bytes=4 * 8192)


def outcome(cloud: Cloud, user: Principal, url: str) -> tuple[str, str, str]:
    image, job = cloud.images.register_request(user, "img", url)
    assert job is not None and image.state == "importing"
    drain(cloud)
    done = cloud.compute.job(user, job.id or 0)
    return cloud.images.get(user, image.id or 0).state, done.state, (done.error or "").replace(url, "URL")


def test_loopback_url_is_refused_without_the_allow_list_and_the_server_is_never_contacted(
    strict: tuple[Cloud, Principal], server: str
) -> None:
    cloud, mallory = strict
    state, job_state, error = outcome(cloud, mallory, f"{server}/image.raw")
    assert (state, job_state) == ("failed", "failed")
    assert "could not be downloaded" in error
    assert Handler.hits == []


def test_import_runs_as_a_job_not_in_the_request(
    allowing: tuple[Cloud, Principal], server: str
) -> None:
    cloud, mallory = allowing
    image, job = cloud.images.register_request(mallory, "img", f"{server}/image.raw")
    assert Handler.hits == [] and image.state == "importing"  # the request downloaded nothing
    drain(cloud)
    ready = cloud.images.get(mallory, image.id or 0)
    assert ready.state == "ready" and ready.size_bytes == len(IMAGE) and ready.format == "raw"
    assert cloud.compute.job(mallory, job.id or 0).state == "done"  # type: ignore[union-attr]


def test_every_failure_gives_the_same_message_so_targets_cannot_be_told_apart(
    allowing: tuple[Cloud, Principal], strict: tuple[Cloud, Principal], server: str
) -> None:
    cloud, mallory = allowing
    closed_port = "http://127.0.0.1:9"
    errors = {
        outcome(cloud, mallory, f"{server}/missing")[2],  # 404
        outcome(cloud, mallory, f"{closed_port}/x")[2],  # nothing listens
        outcome(strict[0], strict[1], "http://169.254.169.254/latest/meta-data/")[2],  # metadata
        outcome(cloud, mallory, "http://10.1.2.3/disk.raw")[2],  # private, not allowed
    }
    assert len(errors) == 1, errors


def test_redirect_into_loopback_is_checked_again_and_refused(
    allowing: tuple[Cloud, Principal], server: str
) -> None:
    cloud, mallory = allowing
    port = server.rsplit(":", 1)[1]
    Handler.redirect_to = f"http://localhost:{port}/image.raw"  # loopback, not in the allow-list
    state, job_state, _ = outcome(cloud, mallory, f"{server}/redirect")
    assert (state, job_state) == ("failed", "failed")
    assert Handler.hits == ["/redirect"]  # the redirect target was never fetched


def test_download_larger_than_the_cap_fails_and_leaves_nothing(
    tmp_path: Path, template_db: Path, server: str
) -> None:
    for cloud, mallory in make_cloud(tmp_path, template_db, url_allow_hosts=["127.0.0.1"],
                                     url_max_bytes=1000):
        state, job_state, _ = outcome(cloud, mallory, f"{server}/image.raw")
        assert (state, job_state) == ("failed", "failed")
        images = Path(cloud.settings.data_dir) / "images"
        assert not [p for p in images.iterdir() if p.is_file()]


def test_non_public_addresses_are_refused_before_any_connection() -> None:
    for address in ("127.0.0.1", "10.0.0.1", "172.16.5.5", "192.168.1.1", "169.254.169.254",
                    "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1",
                    "224.0.0.1", "fe80::1%eth0"):
        assert not is_public(address), address
    assert is_public("93.184.216.34") and is_public("2606:4700::1111")
    fetcher = UrlFetcher(FetchLimits(), resolver=lambda host, port: ["169.254.169.254"])
    for url in ("http://metadata.example/", "ftp://example.org/x", "http://u:p@example.org/",
                "gopher://example.org/"):
        with pytest.raises(InvalidInput, match="could not be downloaded"):
            list(fetcher.chunks(url))
