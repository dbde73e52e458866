"""Volumes (the VolumePort): persistent disks of `one.vm.allocate`,
`one.vm.attach` / `one.vm.detach`, and the attached volumes shown as DISKs in `one.vm.info`.

A DISK whose SOURCE is a volume UUID (or StratusLab's `pdisk:<endpoint>/<uuid>`) names a
persistent volume (READONLY="YES": attached read-only); a further image DISK whose SOURCE is a
Marketplace identifier (or its metadata URL) is a read-only Marketplace disk.  Works over the VolumeService
(`volumes`) and the hot-plug service (`vm_volumes`) of CloudServices.  Attached volumes follow the
boot disk as DISK_ID 1, 2... in UUID order.  Translation only.  Imports core, services and
this package.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from stratuslab.api.xmlrpc.backend import DiskRequest
from stratuslab.api.xmlrpc.services.common import Deps
from stratuslab.core.entities import Principal, Vm
from stratuslab.core.errors import NotFound, Unsupported

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


MARKETPLACE_RE = re.compile(r"(?:^|/)([A-Za-z0-9_-]{27})/?$")


def volume_uuid(disk: DiskRequest) -> str | None:
    """The volume a DISK names through SOURCE (a bare UUID, or pdisk:<endpoint>/<uuid> and
    pdisk:host:port:uuid as StratusLab clients wrote it), if any."""
    source = (disk.source or "").strip()
    tail = re.split(r"[:/]", source)[-1] if source.startswith("pdisk:") else source
    return tail.lower() if UUID_RE.fullmatch(tail) else None


def marketplace_id(disk: DiskRequest) -> str | None:
    """The Marketplace identifier a DISK's SOURCE names (the id, or <marketplace>/metadata/<id>)."""
    match = MARKETPLACE_RE.search((disk.source or "").strip())
    return match.group(1) if match else None


def is_readonly(disk: DiskRequest) -> bool:
    return disk.attrs.get("READONLY", "").upper() in ("YES", "TRUE", "1")


class VolumeCalls:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def attachments(self, principal: Principal) -> dict[int, list[str]]:
        """VM id -> UUIDs of the persistent volumes attached to it (as the caller sees them)."""
        found: dict[int, list[str]] = {}
        for vol in self.deps.volumes.describe(principal):
            for vm_id in vol.attached_to:
                found.setdefault(vm_id, []).append(vol.uuid)
        return {vm_id: sorted(uuids) for vm_id, uuids in found.items()}

    def with_volumes(self, vm: Vm, attached: Mapping[int, Sequence[str]]) -> Vm:
        uuids = attached.get(vm.id or -1, ())
        if uuids:
            disks = [{"source": u, "type": "BLOCK", "persistent": "YES"} for u in uuids]
            vm.spec = vm.spec.with_(disks=[*vm.spec.disks, *disks])
        return vm

    def attach_disk(self, principal: Principal, vm_id: int, disk: DiskRequest) -> None:
        uuid = volume_uuid(disk)
        if uuid is None:
            raise Unsupported("attaching disks other than volumes (SOURCE=<volume uuid>)")
        self.deps.vm_volumes.attach(principal, self.deps.compute.get(principal, vm_id), [uuid])

    def detach_disk(self, principal: Principal, vm_id: int, disk_id: int) -> None:
        vm = self.deps.compute.get(principal, vm_id)
        uuids = self.attachments(principal).get(vm_id, [])
        if not 1 <= disk_id <= len(uuids):
            raise NotFound(f"detachable disk of VM {vm_id}", disk_id, "one.vm.info (DISK_ID)")
        self.deps.vm_volumes.detach(principal, vm, [uuids[disk_id - 1]])
