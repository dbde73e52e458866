"""Issue 27: CRLs of the marketplace trust store, in process on the simulated node.

The trusted CA publishes its CRL at a distribution point served by a real HTTP server on loopback
(started by the test); the server fetches it (at start, then every `[marketplace] crl_refresh`
seconds) into data_dir/marketplace-crls.  A revoked endorser's metadata is refused at upload, at
import and at boot; a CA that publishes a CRL with no CRL at hand, or an expired one, fails
closed unless `[marketplace] crl_required = false`; CRL files in ca_dir count too."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.cloud import drain, import_marketplace, make_settings
from tests.helpers.marketdocs import signed
from tests.helpers.net import www_directory
from tests.helpers.pki import Identity, make_ca, make_crl, make_endorser
from tests.helpers.waits import wait_until

from stratuslab.bootstrap import Cloud, build_cloud
from stratuslab.core.commands import RunInstance, vm_command
from stratuslab.core.entities import Principal
from stratuslab.core.errors import DriverError
from stratuslab.core.marketplace import InvalidMetadata, UntrustedImage
from stratuslab.drivers.identity.crlfetch import HttpCrlFetcher

EMAIL = "carol@example.org"


@pytest.fixture
def www(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    with www_directory(tmp_path) as served:
        yield served


@pytest.fixture
def published_ca(www: tuple[Path, str]) -> Identity:
    return make_ca("CRL Test CA", key_index=6, crl_url=f"{www[1]}/ca.crl")


@pytest.fixture
def carol(published_ca: Identity) -> Identity:
    return make_endorser(published_ca, "Carol Example", EMAIL, key_index=7)


def start_cloud(tmp_path: Path, ca: Identity, **marketplace: Any) -> Cloud:
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir(parents=True, exist_ok=True)
    (ca_dir / "ca.pem").write_bytes(ca.cert_pem)
    c = build_cloud(make_settings(tmp_path / "data",
                                  marketplace={"ca_dir": str(ca_dir), **marketplace}))
    c.identity.ensure_admin("adminpw")
    return c


@pytest.fixture
def cleanup() -> Iterator[list[Cloud]]:
    clouds: list[Cloud] = []
    yield clouds
    for c in clouds:
        c.stop()


def document(tmp_path: Path, who: Identity, name: str) -> bytes:
    image = tmp_path / f"{name}.img"
    image.write_bytes(os.urandom(100_000))
    return signed(who, image.read_bytes(), email=EMAIL, format="raw",
                  locations=(image.as_uri(),))


def upload(cloud: Cloud, raw: bytes) -> str:
    registry = cloud.features.marketplace.registry
    assert registry is not None
    return registry.upload(raw).entry.identifier


def admin_of(cloud: Cloud) -> Principal:
    return cloud.identity.check_password("admin", "adminpw")


def earlier(minutes: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes)


def test_endorser_revoked_at_the_distribution_point_is_refused_at_upload_import_and_boot(
    tmp_path: Path, www: tuple[Path, str], published_ca: Identity, carol: Identity,
    cleanup: list[Cloud],
) -> None:
    root, _url = www
    (root / "ca.crl").write_bytes(make_crl(published_ca, issued=earlier(10)))
    cloud = start_cloud(tmp_path, published_ca)
    cleanup.append(cloud)
    assert cloud.features.marketplace.crls.refresh().updated == ["CN=CRL Test CA,DC=stratuslab,DC=eu"]
    booted = upload(cloud, document(tmp_path, carol, "booted"))
    waiting = upload(cloud, document(tmp_path, carol, "waiting"))
    admin = admin_of(cloud)
    image_id = import_marketplace(cloud, admin, booted)
    [(vm, _job)] = cloud.compute.run(admin, RunInstance(image_id=image_id, hold=True))

    (root / "ca.crl").write_bytes(make_crl(published_ca, (carol,)))  # the CA revokes carol
    report = cloud.features.marketplace.crls.refresh()
    assert len(report.updated) == 1 and not report.failed

    with pytest.raises(InvalidMetadata, match="revoked by its CA"):  # upload
        upload(cloud, document(tmp_path, carol, "later"))
    with pytest.raises(UntrustedImage, match="revoked by its CA"):  # import
        cloud.services.marketplace_images.request_import(admin, waiting)
    cloud.compute.act(admin, vm_command("release", vm.id))  # boot
    drain(cloud)
    shown = cloud.compute.get(admin, vm.id)
    assert shown.state == "prolog-failure" and "revoked by its CA" in (shown.error or "")
    [refusal] = [e.message for e in cloud.compute.events(admin, vm.id)
                 if e.kind == "image-refused"]
    assert booted in refusal and "Carol Example" in refusal


def test_missing_crl_of_a_ca_that_publishes_one_fails_closed_unless_relaxed(
    tmp_path: Path, published_ca: Identity, carol: Identity, cleanup: list[Cloud],
) -> None:
    cloud = start_cloud(tmp_path / "strict", published_ca)
    cleanup.append(cloud)
    report = cloud.features.marketplace.crls.refresh()  # the distribution point answers 404
    assert not report.updated and "404" in report.failed[0]
    with pytest.raises(InvalidMetadata, match=r"publishes a CRL \(http://127\.0\.0\.1:\d+/ca\.crl\)"
                                              " but none is at hand"):
        upload(cloud, document(tmp_path, carol, "strict"))

    relaxed = start_cloud(tmp_path / "relaxed", published_ca, crl_required=False)
    cleanup.append(relaxed)
    assert upload(relaxed, document(tmp_path, carol, "relaxed"))


def test_expired_crl_fails_closed_unless_relaxed(
    tmp_path: Path, www: tuple[Path, str], published_ca: Identity, carol: Identity,
    cleanup: list[Cloud],
) -> None:
    stale = make_crl(published_ca, issued=earlier(3 * 24 * 60), valid=timedelta(days=1))
    (www[0] / "ca.crl").write_bytes(stale)  # the CA stopped publishing fresh lists
    cloud = start_cloud(tmp_path / "strict", published_ca)
    cleanup.append(cloud)
    cloud.features.marketplace.crls.refresh()
    with pytest.raises(InvalidMetadata, match="CRL Test CA.* expired at"):
        upload(cloud, document(tmp_path, carol, "stale"))
    relaxed = start_cloud(tmp_path / "relaxed", published_ca, crl_required=False)
    cleanup.append(relaxed)
    relaxed.features.marketplace.crls.refresh()
    assert upload(relaxed, document(tmp_path, carol, "relaxed"))


def test_crl_file_in_ca_dir_revokes_without_a_distribution_point(
    tmp_path: Path, cleanup: list[Cloud],
) -> None:
    quiet_ca = make_ca("Quiet CA", key_index=6)  # publishes no CRL location
    dave = make_endorser(quiet_ca, "Carol Example", EMAIL, key_index=7)
    cloud = start_cloud(tmp_path, quiet_ca)
    cleanup.append(cloud)
    assert upload(cloud, document(tmp_path, dave, "before"))  # no CRL declared: nothing to miss
    (tmp_path / "ca" / "0a1b2c3d.r0").write_bytes(make_crl(quiet_ca, (dave,)))
    with pytest.raises(InvalidMetadata, match="revoked by its CA 'CN=Quiet CA"):
        upload(cloud, document(tmp_path, dave, "after"))  # picked up without a restart


def test_crls_are_fetched_again_on_the_schedule(
    tmp_path: Path, www: tuple[Path, str], published_ca: Identity, carol: Identity,
    cleanup: list[Cloud],
) -> None:
    (www[0] / "ca.crl").write_bytes(make_crl(published_ca, issued=earlier(10)))
    cloud = start_cloud(tmp_path, published_ca, crl_refresh=1)
    cleanup.append(cloud)
    [worker] = cloud.features.marketplace.parts.workers
    worker.start()
    try:
        wait_until(lambda: list((tmp_path / "data" / "marketplace-crls").glob("*.crl")),
                   timeout=30, message="the CRL fetched at start")
        assert upload(cloud, document(tmp_path, carol, "fresh"))
        (www[0] / "ca.crl").write_bytes(make_crl(published_ca, (carol,)))

        def refused() -> bool:
            try:
                upload(cloud, document(tmp_path, carol, "x"))
            except InvalidMetadata as exc:
                return "revoked" in str(exc)
            return False

        wait_until(refused, timeout=30, message="carol refused after the next scheduled fetch")
    finally:
        worker.stop()


def test_a_crl_not_signed_by_the_ca_is_not_taken(
    tmp_path: Path, www: tuple[Path, str], published_ca: Identity, carol: Identity,
    cleanup: list[Cloud],
) -> None:
    """Hostile distribution point: a list naming the CA but signed by another key is ignored
    (and the CA, whose CRL is then missing, fails closed)."""
    impostor = make_ca("CRL Test CA", key_index=8)
    (www[0] / "ca.crl").write_bytes(make_crl(impostor))
    cloud = start_cloud(tmp_path, published_ca)
    cleanup.append(cloud)
    report = cloud.features.marketplace.crls.refresh()
    assert "not issued and signed by this CA" in report.failed[0]
    assert not list((tmp_path / "data" / "marketplace-crls").glob("*.crl"))
    with pytest.raises(InvalidMetadata, match="none is at hand"):
        upload(cloud, document(tmp_path, carol, "forged"))


def test_an_oversized_crl_body_is_refused_without_keeping_it(www: tuple[Path, str]) -> None:
    (www[0] / "big.crl").write_bytes(b"0" * 100_000)
    with pytest.raises(DriverError, match="larger than 4096 bytes"):
        HttpCrlFetcher(max_bytes=4096).fetch(f"{www[1]}/big.crl")
    with pytest.raises(DriverError, match="not an http"):
        HttpCrlFetcher().fetch("file:///etc/passwd")
