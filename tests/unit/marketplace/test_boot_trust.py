"""Issue 27: marketplace trust at every boot, in process on the simulated node.  The policy and the
trust are checked again whenever a VM of a marketplace image boots (release from hold, start from
poweroff), and the cached image's bytes are checked against the signed checksums: once per
(device, inode, size, mtime, ctime) then only a stat; a tampered cache file is moved aside,
fetched again and only then booted.  Every refusal leaves an event in the VM's log."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.cloud import drain, make_settings
from tests.helpers.marketdocs import creds, later, signed
from tests.helpers.pki import Identity

from stratuslab.bootstrap import Cloud, build_cloud
from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import Principal
from stratuslab.drivers.storage import imagecheck
from stratuslab.services.marketplace import xmldsig
from stratuslab.services.marketplace.trust import TrustStore


@pytest.fixture
def mcloud(tmp_path: Path, ca: Identity) -> Iterator[Cloud]:
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir()
    (ca_dir / "ca.pem").write_bytes(ca.cert_pem)
    c = build_cloud(make_settings(tmp_path / "data", marketplace={"ca_dir": str(ca_dir)}))
    c.identity.ensure_admin("adminpw")
    yield c
    c.stop()


@pytest.fixture
def admin(mcloud: Cloud) -> Principal:
    return mcloud.identity.check_password("admin", "adminpw")


def publish(cloud: Cloud, tmp_path: Path, who: Identity, name: str) -> tuple[str, bytes]:
    image = tmp_path / f"{name}.img"
    image.write_bytes(os.urandom(200_000))
    raw = signed(who, image.read_bytes(), email="alice@example.org", format="raw",
                 locations=(image.as_uri(),))
    return cloud.features.marketplace.registry.upload(raw).entry.identifier, raw


def imported(cloud: Cloud, admin: Principal, ident: str) -> int:
    _image, job = cloud.services.marketplace_images.request_import(admin, ident)
    assert job is not None
    drain(cloud)
    done = cloud.compute.job(admin, job.id)
    assert done.state == "done", done.error
    return int(done.params["image_id"])


def deprecate(cloud: Cloud, who: Identity, raw: bytes) -> None:
    doc = xmldsig.sign_document(xmldsig.mark_deprecated(raw, "use the next one"), creds(who),
                                now=later(5))
    cloud.features.marketplace.registry.upload(doc)


def messages(cloud: Cloud, admin: Principal, vm_id: int, kind: str) -> list[str]:
    return [e.message for e in cloud.compute.events(admin, vm_id) if e.kind == kind]


def test_held_vm_released_after_deprecation_does_not_boot(
    mcloud: Cloud, admin: Principal, alice: Identity, tmp_path: Path
) -> None:
    ident, raw = publish(mcloud, tmp_path, alice, "held")
    image_id = imported(mcloud, admin, ident)
    [(vm, _job)] = mcloud.compute.run(admin, RunInstance(image_id=image_id, hold=True))
    deprecate(mcloud, alice, raw)
    mcloud.compute.act(admin, vm.id, "release")
    drain(mcloud)
    shown = mcloud.compute.get(admin, vm.id)
    assert shown.state == "prolog-failure" and "deprecated: use the next one" in (shown.error or "")
    [refusal] = messages(mcloud, admin, vm.id, "image-refused")
    assert ident in refusal and "deprecated: use the next one" in refusal


def test_powered_off_vm_started_after_deprecation_does_not_boot(
    mcloud: Cloud, admin: Principal, alice: Identity, tmp_path: Path
) -> None:
    ident, raw = publish(mcloud, tmp_path, alice, "off")
    [(vm, _job)] = mcloud.compute.run(admin, RunInstance(image_id=imported(mcloud, admin, ident)))
    drain(mcloud)
    mcloud.compute.act(admin, vm.id, "poweroff")
    drain(mcloud)
    assert mcloud.compute.get(admin, vm.id).state == "poweroff"
    deprecate(mcloud, alice, raw)
    mcloud.compute.act(admin, vm.id, "start")
    drain(mcloud)
    shown = mcloud.compute.get(admin, vm.id)
    assert shown.state != "running" and "deprecated" in (shown.error or "")
    assert len(messages(mcloud, admin, vm.id, "image-refused")) == 1


def test_tampered_cache_file_is_moved_aside_fetched_again_then_booted(
    mcloud: Cloud, admin: Principal, alice: Identity, tmp_path: Path
) -> None:
    ident, _raw = publish(mcloud, tmp_path, alice, "tamper")
    image_id = imported(mcloud, admin, ident)
    path = Path(mcloud.images.get(admin, image_id).path)
    good = path.read_bytes()
    with open(path, "r+b") as fh:  # same size, one byte changed
        fh.seek(1000)
        fh.write(bytes([good[1000] ^ 0xFF]))
    [(vm, _job)] = mcloud.compute.run(admin, RunInstance(image_id=image_id))
    drain(mcloud)
    shown = mcloud.compute.get(admin, vm.id)
    assert shown.state == "running", shown.error
    assert path.read_bytes() == good
    aside = list((path.parent / ".tampered").iterdir())
    assert len(aside) == 1 and aside[0].read_bytes() != good
    [event] = messages(mcloud, admin, vm.id, "image-refetched")
    assert ident in event and "SHA" in event


def test_unchanged_cache_file_is_hashed_once_then_only_stat_ed(
    mcloud: Cloud, admin: Principal, alice: Identity, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ident, _raw = publish(mcloud, tmp_path, alice, "cheap")
    image_id = imported(mcloud, admin, ident)
    hashed: list[Path] = []
    real = imagecheck.digest_file
    monkeypatch.setattr(imagecheck, "digest_file",
                        lambda p, algs: hashed.append(p) or real(p, algs))
    for _ in range(3):
        mcloud.compute.run(admin, RunInstance(image_id=image_id))
        drain(mcloud)
    assert len(hashed) <= 1  # the import recorded it; at most one re-hash after that
    path = Path(mcloud.images.get(admin, image_id).path)
    os.utime(path)  # mtime (and ctime) change: hashed again, found good, booted
    before = len(hashed)
    [(vm, _job)] = mcloud.compute.run(admin, RunInstance(image_id=image_id))
    drain(mcloud)
    assert mcloud.compute.get(admin, vm.id).state == "running"
    assert len(hashed) == before + 1


def test_policy_image_names_the_signer_even_when_the_chain_fails(
    mcloud: Cloud, admin: Principal, alice: Identity, other_ca: Identity, tmp_path: Path
) -> None:
    ident, _raw = publish(mcloud, tmp_path, alice, "unchained")
    images = mcloud.services.marketplace_images
    images.gate.trust = TrustStore((other_ca.cert,))  # the site stopped trusting alice's CA
    [row] = images.explain(ident)
    assert row["allowed"] is False and row["email"] == "alice@example.org"
    assert row["signer"].startswith("CN=Alice Example") and row["verified"] is False
    assert row["reasons"]


def test_tampered_cache_of_a_compressed_location_is_refetched_too(
    mcloud: Cloud, admin: Principal, alice: Identity, tmp_path: Path
) -> None:
    """The signed checksums are those of the .gz: the reference is the SHA-256 of the
    decompressed bytes taken while the verified download was written."""
    source = tmp_path / "gz.img.gz"
    source.write_bytes(gzip.compress(os.urandom(200_000), mtime=0))
    raw = signed(alice, source.read_bytes(), email="alice@example.org", format="raw",
                 compression="gz", locations=(source.as_uri(),))
    ident = mcloud.features.marketplace.registry.upload(raw).entry.identifier
    image_id = imported(mcloud, admin, ident)
    path = Path(mcloud.images.get(admin, image_id).path)
    good = path.read_bytes()
    path.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    [(vm, _job)] = mcloud.compute.run(admin, RunInstance(image_id=image_id))
    drain(mcloud)
    assert mcloud.compute.get(admin, vm.id).state == "running"
    assert path.read_bytes() == good
    [event] = messages(mcloud, admin, vm.id, "image-refetched")
    assert "decompressed" in event


def test_removing_a_ca_takes_effect_at_the_next_boot_without_a_restart(
    mcloud: Cloud, admin: Principal, alice: Identity, tmp_path: Path
) -> None:
    ident, _raw = publish(mcloud, tmp_path, alice, "untrusted")
    image_id = imported(mcloud, admin, ident)
    [(vm, _job)] = mcloud.compute.run(admin, RunInstance(image_id=image_id, hold=True))
    (tmp_path / "ca" / "ca.pem").unlink()  # the site stops trusting alice's CA
    mcloud.compute.act(admin, vm.id, "release")
    drain(mcloud)
    shown = mcloud.compute.get(admin, vm.id)
    assert shown.state == "prolog-failure", shown.error
    [refusal] = messages(mcloud, admin, vm.id, "image-refused")
    assert ident in refusal and "no verifiable entry" in refusal
