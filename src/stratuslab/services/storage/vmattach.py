"""Hot-plug of volumes into a caller's running VM (`stratus attach-volume -i VM UUID...`,
`detach-volume`): finds the VM's node and hypervisor handle and drives VolumeHotplug, one volume
after the other, synchronously (QMP `blockdev-add` + `device_add` take well under a second; the
caller gets the guest's device names in the answer).

The caller (the REST adapter) has already loaded the VM through the compute service with the
permission to act on it.  A refusal names the VM that holds the volume; a failed plug leaves the
volume free and unexported (VolumeHotplug undoes its half).  Imports `core` and the service
layer only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from stratuslab.core.entities import Principal, Vm
from stratuslab.core.errors import InvalidState
from stratuslab.core.hypervisor import VmHandle
from stratuslab.core.node import Node
from stratuslab.services.storage.hotplug import Plugged, VolumeHotplug
from stratuslab.services.storage.service import VolumeService

#: VM states in which QEMU runs and accepts hot-plug
PLUGGABLE = ("running",)


class VmVolumes:
    def __init__(
        self,
        hotplug: VolumeHotplug,
        nodes: Mapping[str, Node],
        *,
        volumes: VolumeService | None = None,
        vm_state: Callable[[int], str | None] | None = None,
    ) -> None:
        """`vm_state(vm_id)` (the VM's state now, None when gone) lets an attach that raced
        with the VM's end give the volume back: the end detached what was recorded before it."""
        self._hotplug = hotplug
        self._nodes = nodes
        self._volumes = volumes
        self._vm_state = vm_state

    def _target(self, vm: Vm, action: str) -> tuple[Node, VmHandle]:
        handle = vm.spec.handle
        if vm.state not in PLUGGABLE or not handle or vm.host not in self._nodes:
            raise InvalidState(
                what="VM", name=f"{vm.id} ({vm.name})", state=vm.state, action=action,
                allowed=", ".join(PLUGGABLE),
                hint=f"start it first, or give the volume at launch: stratus run-instance "
                f"--persistent-disk UUID (VM {vm.id} is {vm.state})",
            )  # fmt: skip
        node = self._nodes[vm.host or ""]
        return node, VmHandle(vm.id or 0, handle["host"], handle.get("data", {}))

    def attach(self, principal: Principal, vm: Vm, uuids: Sequence[str]) -> list[Plugged]:
        node, handle = self._target(vm, "attach a volume")
        plugged = []
        for uuid in uuids:
            plugged.append(self._hotplug.attach(principal, uuid, node.hypervisor, handle))
            self._check_still_running(vm, plugged)
        return plugged

    def _check_still_running(self, vm: Vm, plugged: list[Plugged]) -> None:
        if self._vm_state is None or self._volumes is None:
            return
        state = self._vm_state(vm.id or 0)
        if state in PLUGGABLE:
            return
        for p in plugged:  # the VM ended meanwhile: its end may have missed these attachments
            self._volumes.release(p.volume_uuid, p.vm_id)
        raise InvalidState(
            what="VM", name=f"{vm.id} ({vm.name})", state=state or "gone",
            action="attach a volume", allowed=", ".join(PLUGGABLE),
            hint="the VM stopped while the volume was plugged in; the volume was released",
        )  # fmt: skip

    def detach(self, principal: Principal, vm: Vm, uuids: Sequence[str]) -> list[str]:
        node, handle = self._target(vm, "detach a volume")
        for uuid in uuids:
            self._hotplug.detach(principal, uuid, node.hypervisor, handle)
        return list(uuids)
