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

from collections.abc import Mapping, Sequence

from stratuslab.core.entities import Principal, Vm
from stratuslab.core.errors import InvalidState
from stratuslab.core.hypervisor import VmHandle
from stratuslab.core.node import Node
from stratuslab.services.storage.hotplug import Plugged, VolumeHotplug

#: VM states in which QEMU runs and accepts hot-plug
PLUGGABLE = ("running",)


class VmVolumes:
    def __init__(self, hotplug: VolumeHotplug, nodes: Mapping[str, Node]) -> None:
        self._hotplug = hotplug
        self._nodes = nodes

    def _target(self, vm: Vm, action: str) -> tuple[Node, VmHandle]:
        handle = vm.spec.get("handle")
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
        return [
            self._hotplug.attach(principal, uuid, node.hypervisor, handle) for uuid in uuids
        ]

    def detach(self, principal: Principal, vm: Vm, uuids: Sequence[str]) -> list[str]:
        node, handle = self._target(vm, "detach a volume")
        for uuid in uuids:
            self._hotplug.detach(principal, uuid, node.hypervisor, handle)
        return list(uuids)
