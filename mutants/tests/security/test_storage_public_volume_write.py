"""Attack: attach another user's *public* volume read-write (at launch, by hot-plug, or through
the attach call every front end uses) and change or destroy its owner's data.

Public volumes are shared read-only at most; writing needs ownership or the admin role.  The whole
matrix: owner / same group / other / admin × private / public × read-only / writable volume ×
service attach / hot-plug / `--persistent-disk` / `--readonly-disk`."""

from __future__ import annotations

import itertools

import pytest
from tests.unit.storage.fakes import FixedClock, RecordingBackend

from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import Principal, Vm
from stratuslab.core.errors import Forbidden, NotFound
from stratuslab.core.hypervisor import DiskSpec, VmHandle
from stratuslab.core.volumes import CreateVolume, UpdateVolume
from stratuslab.services.storage.extension import VolumeExtension
from stratuslab.services.storage.hotplug import VolumeHotplug
from stratuslab.services.storage.memory import InMemoryStorageUnitOfWork
from stratuslab.services.storage.service import VolumeService

OWNER = Principal("alice", 1, groups=("physics",))
CALLERS = {
    "owner": OWNER,
    "same-group": Principal("bob", 2, groups=("physics",)),
    "other": Principal("carol", 3, groups=("chemistry",)),
    "admin": Principal("root", 0, roles=frozenset({"admin"})),
}
WAYS = ("attach", "hot-plug", "persistent-disk", "readonly-disk")


class RecordingHypervisor:
    """Fake hypervisor port: records the disks it is asked to plug."""

    def __init__(self) -> None:
        self.plugged: list[DiskSpec] = []

    def attach_disk(self, handle: VmHandle, disk: DiskSpec) -> str:
        self.plugged.append(disk)
        return "vdb"


def expected(who: str, visibility: str, vol_readonly: bool, way: str) -> str:
    """'ro', 'rw', 'hidden' (404, existence not leaked) or 'forbidden'."""
    mine = who in ("owner", "admin")
    if not mine and visibility == "private":
        return "hidden"
    if way == "readonly-disk" or vol_readonly:
        return "ro"
    if mine:
        return "rw"
    return "forbidden" if way == "persistent-disk" else "ro"


def attempt(who: str, visibility: str, vol_readonly: bool, way: str) -> str:
    uow, backend, hv = InMemoryStorageUnitOfWork(), RecordingBackend(), RecordingHypervisor()
    svc = VolumeService(uow, {"p": backend}, clock=FixedClock(), default_pool="p")
    ext = VolumeExtension(uow, {"p": backend}, clock=FixedClock())
    vol = svc.create(OWNER, CreateVolume(size_gb=1, visibility=visibility))
    if vol_readonly:
        svc.update(OWNER, vol.uuid, UpdateVolume(readonly=True))
    caller = CALLERS[who]
    try:
        if way == "attach":
            return "ro" if svc.attach(caller, vol.uuid, 7).readonly else "rw"
        if way == "hot-plug":
            VolumeHotplug(svc).attach(caller, vol.uuid, hv, VmHandle(7, "node-1", {}))  # type: ignore[arg-type]
            (disk,) = hv.plugged
            return "ro" if disk.readonly else "rw"
        flag = "persistent_disks" if way == "persistent-disk" else "readonly_disks"
        cmd = RunInstance(image_id=1, **{flag: (vol.uuid,)})  # type: ignore[arg-type]
        ext.on_create(uow, caller, Vm(7, "v", caller.user, "g", "pending", 1, "m", 1, 64), cmd)
        with uow as u:
            (att,) = u.volumes.attachments(vol.uuid)
        return "ro" if att.readonly else "rw"
    except NotFound:
        return "hidden"
    except Forbidden as exc:
        assert "only its owner may attach it for writing" in exc.full_message
        assert "--readonly-disk" in exc.full_message
        return "forbidden"


@pytest.mark.parametrize(
    ("who", "visibility", "vol_readonly", "way"),
    list(itertools.product(CALLERS, ("private", "public"), (False, True), WAYS)),
)
def test_public_volume_of_another_user_is_never_attached_writable(
    who: str, visibility: str, vol_readonly: bool, way: str
) -> None:
    assert attempt(who, visibility, vol_readonly, way) == expected(
        who, visibility, vol_readonly, way)
