"""Cloud side of the marketplace, in process (simulated node): the import job, the policy
re-checked at every launch, and marketplace images as read-only disks."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.cloud import drain, make_settings, seed_data_dir
from tests.helpers.marketdocs import creds, later, signed
from tests.helpers.pki import Identity

from stratuslab.bootstrap import Cloud, build_cloud
from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import Principal
from stratuslab.core.marketplace import InvalidMetadata, PolicyRefused
from stratuslab.core.ports import Page, VmFilter
from stratuslab.services.marketplace import xmldsig


@pytest.fixture
def mcloud(tmp_path: Path, ca: Identity, template_db: Path) -> Iterator[Cloud]:
    seed_data_dir(tmp_path / "data", template_db)  # on PostgreSQL runs: the emptied database
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir()
    (ca_dir / "ca.pem").write_bytes(ca.cert_pem)
    settings = make_settings(tmp_path / "data", marketplace={"ca_dir": str(ca_dir)},
                             policy={"endorsers_blacklist": ["bob@example.org"]})
    c = build_cloud(settings)
    c.identity.ensure_admin("adminpw")
    yield c
    c.stop()


@pytest.fixture
def admin(mcloud: Cloud) -> Principal:
    return mcloud.identity.check_password("admin", "adminpw")


def publish(cloud: Cloud, tmp_path: Path, who: Identity, name: str, email: str,
            **fields: Any) -> tuple[str, bytes]:
    image = tmp_path / f"{name}.img.gz"
    image.write_bytes(gzip.compress(os.urandom(300_000), mtime=0))
    raw = signed(who, image.read_bytes(), email=email, compression="gz", format="raw",
                 locations=(image.as_uri(),), **fields)
    stored = cloud.features.marketplace.registry.upload(raw)
    return stored.entry.identifier, raw


def vm_count(cloud: Cloud) -> int:
    with cloud.uow(readonly=True) as uow:
        return len(uow.vms.list(VmFilter(include_done=True), Page(0, 1000)))


def imported(cloud: Cloud, admin: Principal, ident: str) -> int:
    images = cloud.services.marketplace_images
    image, job = images.request_import(admin, ident)
    assert image is None and job is not None and job.kind == "image-import"
    drain(cloud)
    done = cloud.compute.job(admin, job.id)
    assert done.state == "done", done.error
    assert done.step == "done" and done.params["progress"]["done"] == done.params["progress"]["total"]
    return int(done.params["image_id"])


def test_import_job_registers_the_verified_image_once_per_node(
    mcloud: Cloud, admin: Principal, alice: Identity, tmp_path: Path
) -> None:
    ident, _ = publish(mcloud, tmp_path, alice, "one", "alice@example.org")
    image_id = imported(mcloud, admin, ident)
    image = mcloud.images.get(admin, image_id)
    assert image.marketplace_id == ident and image.public and Path(image.path).is_file()
    again, job = mcloud.services.marketplace_images.request_import(admin, ident)
    assert job is None and again is not None and again.id == image_id


def test_imported_image_keeps_declared_inbound_ports_and_its_vms_firewall_opens_them(
    mcloud: Cloud, admin: Principal, alice: Identity, tmp_path: Path
) -> None:
    ident, _ = publish(mcloud, tmp_path, alice, "web", "alice@example.org",
                       inbound_ports=(8080, 80))
    image_id = imported(mcloud, admin, ident)
    assert mcloud.images.get(admin, image_id).inbound_ports == [80, 8080]
    [(vm, _job)] = mcloud.compute.run(admin, RunInstance(image_id=image_id))
    drain(mcloud)
    rules = mcloud.features.network.driver.rules[f"sl{vm.id}n0"]
    inbound_tcp = {r.port_min for r in rules if r.direction.value == "inbound" and r.protocol.value == "tcp"}
    assert inbound_tcp == {22, 80, 8080}


def test_policy_is_checked_again_at_every_launch_and_a_refusal_creates_nothing(
    mcloud: Cloud, admin: Principal, alice: Identity, tmp_path: Path
) -> None:
    ident, raw = publish(mcloud, tmp_path, alice, "two", "alice@example.org")
    image_id = imported(mcloud, admin, ident)
    mcloud.compute.run(admin, RunInstance(image_id=image_id))
    deprecated = xmldsig.sign_document(xmldsig.mark_deprecated(raw, "use three"), creds(alice),
                                       now=later(5))
    mcloud.features.marketplace.registry.upload(deprecated)
    before = vm_count(mcloud)
    with pytest.raises(PolicyRefused, match="deprecated: use three"):
        mcloud.compute.run(admin, RunInstance(image_id=image_id))
    assert vm_count(mcloud) == before


def test_blacklisted_endorser_creates_no_import_job(
    mcloud: Cloud, admin: Principal, bob: Identity, tmp_path: Path
) -> None:
    ident, _ = publish(mcloud, tmp_path, bob, "three", "bob@example.org")
    with pytest.raises(PolicyRefused, match="endorser bob@example.org is blacklisted"):
        mcloud.services.marketplace_images.request_import(admin, ident)
    assert [j for j in mcloud.compute.jobs(admin) if j.kind == "image-import"] == []
    assert not list((mcloud.settings.data_dir / "marketplace-cache").glob(f"{ident}*"))


def test_marketplace_image_as_readonly_disk_is_fetched_and_attached_readonly(
    mcloud: Cloud, admin: Principal, alice: Identity, tmp_path: Path
) -> None:
    base, _ = publish(mcloud, tmp_path, alice, "base", "alice@example.org")
    data, _ = publish(mcloud, tmp_path, alice, "data", "alice@example.org")
    [(vm, _job)] = mcloud.compute.run(admin, RunInstance(image_id=imported(mcloud, admin, base),
                                                         readonly_disks=(data,)))
    drain(mcloud)
    shown = mcloud.compute.get(admin, vm.id)
    assert shown.state == "running", shown.error
    [disk] = [d for d in shown.spec.prepared["disks"] if d["name"] == "mkt-0"]
    assert disk["readonly"] and disk["source"].endswith(f"{data}.raw") and Path(disk["source"]).is_file()


def test_unknown_or_malformed_identifiers_are_refused(mcloud: Cloud, admin: Principal) -> None:
    images = mcloud.services.marketplace_images
    with pytest.raises(InvalidMetadata, match="not 27 characters"):
        images.request_import(admin, "short")
    with pytest.raises(Exception, match="does not exist"):
        images.request_import(admin, "A" * 27)
