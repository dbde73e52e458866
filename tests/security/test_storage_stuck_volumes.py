"""Attack (or accident): kill the server while it creates or deletes a volume.  The volume stayed
`creating` / `deleting` forever — not attachable, not deletable, still charged to the quota.

At start-up the server moves volumes left `creating` to `failed` with the reason and the command
to run (deleting them releases the quota), and finishes the deletion of those left `deleting`."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.cloud import make_settings, seed_data_dir

from stratuslab.bootstrap import build_cloud
from stratuslab.core.errors import NotFound
from stratuslab.core.volumes import CreateVolume, QuotaSubject, SubjectKind, VolumeState
from stratuslab.services.storage.uow import quotas, volumes

ALICE_Q = QuotaSubject(SubjectKind.USER, "alice")


def test_volumes_stuck_by_a_crash_become_actionable_at_start_up(
    tmp_path: Path, template_db: Path
) -> None:
    seed_data_dir(tmp_path, template_db)
    first = build_cloud(make_settings(tmp_path))
    first.identity.ensure_admin("adminpw")
    admin = first.identity.check_password("admin", "adminpw")
    first.identity.create_user(admin, "alice", "alicepw12")
    alice = first.identity.check_password("alice", "alicepw12")
    svc = first.services.volumes
    creating = svc.create(alice, CreateVolume(size_gb=2))
    deleting = svc.create(alice, CreateVolume(size_gb=3))
    with first.uow() as uow:  # the states a kill leaves behind mid-create / mid-delete
        assert volumes(uow).cas_state(creating.uuid, VolumeState.READY, VolumeState.CREATING)
        assert volumes(uow).cas_state(deleting.uuid, VolumeState.READY, VolumeState.DELETING)
        uow.commit()
    first.stop()

    second = build_cloud(make_settings(tmp_path))
    second.start()
    try:
        svc = second.services.volumes
        failed = svc.get(alice, creating.uuid)
        assert failed.state == "failed"
        assert f"stratus delete-volume {creating.uuid}" in (failed.error or "")
        with pytest.raises(NotFound):
            svc.get(alice, deleting.uuid)
        with second.uow() as uow:
            gone = volumes(uow).get(deleting.uuid)
            assert gone is None or gone.state == "deleted"
            assert quotas(uow).usage(ALICE_Q).gb == 2  # the deleted volume's 3 GiB released
        svc.delete(alice, creating.uuid)  # what the user can now do
        with second.uow() as uow:
            assert quotas(uow).usage(ALICE_Q).gb == 0
    finally:
        second.stop()
