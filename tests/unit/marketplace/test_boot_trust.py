"""Issue 27: marketplace trust at every boot, in process on the simulated node.  The policy and the
trust are checked again whenever a VM of a marketplace image boots (release from hold, start from
poweroff, resume from stop, reboot of a dead guest), and the cached image's bytes are checked
against the signed checksums: once per (device, inode, size, mtime, ctime) then only a stat; a
tampered cache file is moved aside, fetched again and only then booted.  Every refusal leaves an
event in the VM's log."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.cloud import drain, make_settings
from tests.helpers.cloud import import_marketplace as imported
from tests.helpers.marketdocs import creds, later, signed
from tests.helpers.pki import Identity

from stratuslab.bootstrap import Cloud
from stratuslab.core.commands import RunInstance, vm_command
from stratuslab.core.entities import Principal
from stratuslab.drivers.storage import imagecheck
from stratuslab.services.marketplace import PolicyLists, TrustPolicy, xmldsig
from stratuslab.services.marketplace.trust import TrustStore


@pytest.fixture
def admin(mcloud: Cloud) -> Principal:
    return mcloud.identity.check_password("admin", "adminpw")


def publish(cloud: Cloud, tmp_path: Path, who: Identity, name: str) -> tuple[str, bytes]:
    image = tmp_path / f"{name}.img"
    image.write_bytes(os.urandom(200_000))
    raw = signed(who, image.read_bytes(), email="alice@example.org", format="raw",
                 locations=(image.as_uri(),))
    return cloud.features.marketplace.registry.upload(raw).entry.identifier, raw


def running(cloud: Cloud, admin: Principal, ident: str, *then: str) -> int:
    """A VM of `ident` booted, then taken through the actions `then`; its id."""
    [(vm, _job)] = cloud.compute.run(admin, RunInstance(image_id=imported(cloud, admin, ident)))
    drain(cloud)
    assert cloud.compute.get(admin, vm.id).state == "running"
    for action in then:
        cloud.compute.act(admin, vm_command(action, vm.id))
        drain(cloud)
    return int(vm.id)


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
    mcloud.compute.act(admin, vm_command("release", vm.id))
    drain(mcloud)
    shown = mcloud.compute.get(admin, vm.id)
    assert shown.state == "prolog-failure" and "deprecated: use the next one" in (shown.error or "")
    [refusal] = messages(mcloud, admin, vm.id, "image-refused")
    assert ident in refusal and "deprecated: use the next one" in refusal


def test_powered_off_vm_started_after_deprecation_does_not_boot(
    mcloud: Cloud, admin: Principal, alice: Identity, tmp_path: Path
) -> None:
    ident, raw = publish(mcloud, tmp_path, alice, "off")
    vm_id = running(mcloud, admin, ident, "poweroff")
    assert mcloud.compute.get(admin, vm_id).state == "poweroff"
    deprecate(mcloud, alice, raw)
    mcloud.compute.act(admin, vm_command("start", vm_id))
    drain(mcloud)
    shown = mcloud.compute.get(admin, vm_id)
    assert shown.state != "running" and "deprecated" in (shown.error or "")
    assert len(messages(mcloud, admin, vm_id, "image-refused")) == 1


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
    mcloud.compute.act(admin, vm_command("release", vm.id))
    drain(mcloud)
    shown = mcloud.compute.get(admin, vm.id)
    assert shown.state == "prolog-failure", shown.error
    [refusal] = messages(mcloud, admin, vm.id, "image-refused")
    assert ident in refusal and "no verifiable entry" in refusal


def _crashed(cloud: Cloud, admin: Principal, vm_id: int) -> None:
    """The guest's process dies under a running VM: the reconciler marks the VM `unknown`."""
    from stratuslab.core.hypervisor import VmHandle

    hv: Any = cloud.nodes["localhost"].hypervisor
    hv.set_event_sink(cloud.reconciler.observe)
    hv.simulate_crash(vm_id)
    h = cloud.compute.get(admin, vm_id).spec.handle
    hv.kill(VmHandle(vm_id, h["host"], h.get("data", {})))
    assert cloud.compute.get(admin, vm_id).state == "unknown"


def test_reboot_of_a_dead_guest_after_deprecation_does_not_boot(
    mcloud: Cloud, admin: Principal, alice: Identity, tmp_path: Path
) -> None:
    """Reboot after a change: the guest's process is gone, so `reboot` boots it again from its
    disks, and that boot is checked against the metadata as it is now."""
    ident, raw = publish(mcloud, tmp_path, alice, "reboot")
    vm_id = running(mcloud, admin, ident)
    _crashed(mcloud, admin, vm_id)
    deprecate(mcloud, alice, raw)
    mcloud.compute.act(admin, vm_command("reboot", vm_id))
    drain(mcloud)
    shown = mcloud.compute.get(admin, vm_id)
    assert shown.state != "running" and "deprecated: use the next one" in (shown.error or "")
    [refusal] = messages(mcloud, admin, vm_id, "image-refused")
    assert ident in refusal


def test_reboot_of_a_dead_guest_with_a_tampered_cache_refetches_then_boots(
    mcloud: Cloud, admin: Principal, alice: Identity, tmp_path: Path
) -> None:
    ident, _raw = publish(mcloud, tmp_path, alice, "reboot-tamper")
    image_id = imported(mcloud, admin, ident)
    [(vm, _job)] = mcloud.compute.run(admin, RunInstance(image_id=image_id))
    drain(mcloud)
    _crashed(mcloud, admin, vm.id)
    path = Path(mcloud.images.get(admin, image_id).path)
    good = path.read_bytes()
    path.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    mcloud.compute.act(admin, vm_command("reboot", vm.id))
    drain(mcloud)
    assert mcloud.compute.get(admin, vm.id).state == "running"
    assert path.read_bytes() == good
    assert len(messages(mcloud, admin, vm.id, "image-refetched")) == 1


def test_resume_of_a_stopped_vm_after_blacklisting_does_not_boot(
    mcloud: Cloud, admin: Principal, alice: Identity, tmp_path: Path
) -> None:
    """Resume from `stopped` (state saved to disk, guest process gone) restores the guest on the
    node: the same check as a fresh boot, with the policy as it is now."""
    ident, _raw = publish(mcloud, tmp_path, alice, "stopped")
    vm_id = running(mcloud, admin, ident, "stop")
    assert mcloud.compute.get(admin, vm_id).state == "stopped"
    gate = mcloud.services.marketplace_images.gate
    gate.policy = TrustPolicy(PolicyLists.of(images_blacklist=[ident]))
    mcloud.compute.act(admin, vm_command("resume", vm_id))
    drain(mcloud)
    shown = mcloud.compute.get(admin, vm_id)
    assert shown.state != "running" and f"image {ident} is blacklisted" in (shown.error or "")
    assert len(messages(mcloud, admin, vm_id, "image-refused")) == 1


def test_reload_with_another_ca_dir_watches_that_one_from_then_on(
    mcloud: Cloud, admin: Principal, alice: Identity, other_ca: Identity, tmp_path: Path
) -> None:
    """`stratus-server reload` with `[marketplace] ca_dir` pointing elsewhere: the new directory
    is in force, and a later change of the old one does not bring the old anchors back."""
    ident, _raw = publish(mcloud, tmp_path, alice, "moved")
    elsewhere = tmp_path / "ca2"
    elsewhere.mkdir()
    (elsewhere / "rogue.pem").write_bytes(other_ca.cert_pem)  # alice's CA is not trusted there
    mcloud.features.marketplace.reload(make_settings(
        tmp_path / "data", marketplace={"ca_dir": str(elsewhere)}))
    (tmp_path / "ca" / "note.txt").write_text("the old directory changes")
    [row] = mcloud.services.marketplace_images.explain(ident)
    assert row["verified"] is False and "not a trusted CA" in row["reasons"][0]
