"""Hot-plug of volumes into running VMs (`stratus attach-volume -i VM UUID`, `detach-volume`):
record (compare-and-swap), export, plug through the node's hypervisor, record the device the
guest sees.  Each half undoes itself on failure, so a refused or failed plug leaves the volume
free and unexported.

The caller (the compute side: job step or request handler) has already checked that the
principal may act on the VM and that the VM is running, and gives its node and handle.
Imports `core` and the service layer only.
"""

from __future__ import annotations

from dataclasses import dataclass

from stratuslab.core.entities import Principal
from stratuslab.core.errors import CloudError
from stratuslab.core.hypervisor import DiskSpec, HypervisorPort, VmHandle
from stratuslab.core.volumes import disk_name_for
from stratuslab.services.storage.service import VolumeService


@dataclass(frozen=True, slots=True)
class Plugged:
    volume_uuid: str
    vm_id: int
    device: str  # vdb, vdc... as the guest names it
    readonly: bool


class VolumeHotplug:
    def __init__(self, volumes: VolumeService) -> None:
        self._volumes = volumes

    def attach(
        self, principal: Principal, uuid: str, hypervisor: HypervisorPort, handle: VmHandle
    ) -> Plugged:
        plan = self._volumes.attach(principal, uuid, handle.vm_id)
        disk = DiskSpec(plan.disk_name, plan.source, format=plan.format, readonly=plan.readonly,
                        auth=plan.auth)
        try:
            device = hypervisor.attach_disk(handle, disk)
        except CloudError:
            self._volumes.release(plan.volume_uuid, handle.vm_id)
            raise
        self._volumes.attached(plan.volume_uuid, handle.vm_id, device)
        return Plugged(plan.volume_uuid, handle.vm_id, device, plan.readonly)

    def detach(
        self, principal: Principal, uuid: str, hypervisor: HypervisorPort, handle: VmHandle
    ) -> None:
        """Unplug (the guest must release the disk: the hypervisor waits for it), then forget
        the attachment and unexport.  A failed unplug keeps the attachment recorded."""
        vol = self._volumes.get(principal, uuid)
        if handle.vm_id not in vol.attached_to:
            self._volumes.detach(principal, vol.uuid, handle.vm_id)  # raises NotFound
        hypervisor.detach_disk(handle, disk_name_for(vol.uuid))
        self._volumes.detach(principal, vol.uuid, handle.vm_id)
