"""The storage half of the OCCI services backend: storage resources and storagelinks.

Works over the VolumeService (`volumes`) and the hot-plug service (`vm_volumes`) of
CloudServices.  online/offline: a ready volume is online and stays so (offline is 409, see
storage_action).  OCCI storage ids are volume UUIDs; only persistent volumes are storage resources
(root and volatile disks belong to their VM).  A volume attached to a VM is a storagelink with
id "<vm id>_<uuid>".  Translation only.  Imports core, services and this package.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from stratuslab.api.occi.backend import LinkRecord, StorageRecord
from stratuslab.core.entities import Principal, Vm
from stratuslab.core.errors import InvalidState, NotFound, Unsupported
from stratuslab.core.volumes import CreateVolume, UpdateVolume, Volume, VolumeKind, VolumeState
from stratuslab.services.catalog import CloudServices
from stratuslab.services.storage.service import VolumeService

LISTING = "GET /occi/storage/"
_STATES = {VolumeState.READY.value: "online", VolumeState.FAILED.value: "error"}


def _record(vol: Volume) -> StorageRecord:
    return StorageRecord(
        id=vol.uuid,
        title=vol.tag or vol.uuid,
        size_gib=float(vol.size_gb),
        state=_STATES.get(vol.state, "offline"),
        message=vol.error,
    )


class StorageCalls:
    services: CloudServices

    def _volumes(self) -> VolumeService:
        return self.services.volumes

    def _visible(self, principal: Principal) -> list[Volume]:
        return [
            v
            for v in self._volumes().describe(principal)
            if v.kind == VolumeKind.PERSISTENT.value and v.state != VolumeState.DELETED.value
        ]

    def storage_create(self, principal: Principal, title: str | None, size_gib: float) -> str:
        made = self._volumes().create(
            principal, CreateVolume(size_gb=max(1, math.ceil(size_gib)), tag=title or "")
        )
        return str(made.uuid)

    def storage_get(self, principal: Principal, storage_id: str) -> StorageRecord:
        for vol in self._visible(principal):
            if vol.uuid == storage_id:
                return _record(vol)
        raise NotFound("storage", storage_id, LISTING)

    def storage_list(self, principal: Principal) -> Sequence[StorageRecord]:
        return [_record(v) for v in self._visible(principal)]

    def storage_action(self, principal: Principal, storage_id: str, *, online: bool) -> None:
        """Our volumes have no offline state: a ready volume is online (online is a no-op on
        it); offline is refused (409), and so is online on a volume that is not ready."""
        record = self.storage_get(principal, storage_id)
        if not online:
            raise InvalidState(
                what="storage", name=storage_id, state=record.state, action="go offline",
                allowed="nowhere: a ready volume is always online",
                hint="to take it away from a compute, DELETE its storagelink; "
                "to retire it, DELETE the storage",
            )
        if record.state != "online":
            raise InvalidState(
                what="storage", name=storage_id, state=record.state, action="go online",
                allowed="offline: it is not ready",
                hint="a failed volume cannot be repaired; DELETE it and create another",
            )

    def storage_delete(self, principal: Principal, storage_id: str) -> None:
        self.storage_get(principal, storage_id)
        self._volumes().delete(principal, storage_id)

    def storage_update(
        self,
        principal: Principal,
        storage_id: str,
        *,
        title: str | None = None,
        size_gib: float | None = None,
    ) -> None:
        if size_gib is not None:
            raise Unsupported("resizing storage")
        self.storage_get(principal, storage_id)
        self._volumes().update(principal, storage_id, UpdateVolume(tag=title))

    # ---- storagelinks -------------------------------------------------------------------------
    def storage_links(self, principal: Principal, vms: Sequence[Vm]) -> list[LinkRecord]:
        wanted = {vm.id for vm in vms}
        return [
            LinkRecord(f"{vm_id}_{vol.uuid}", "storagelink", vm_id, vol.uuid, {})
            for vol in self._visible(principal)
            for vm_id in vol.attached_to
            if vm_id in wanted
        ]

    def attach_storage(self, principal: Principal, vm: Vm, storage_id: str) -> str:
        self.storage_get(principal, storage_id)
        self.services.vm_volumes.attach(principal, vm, [storage_id])
        return f"{vm.id}_{storage_id}"

    def detach_storage(self, principal: Principal, vm: Vm, storage_id: str) -> None:
        self.services.vm_volumes.detach(principal, vm, [storage_id])
