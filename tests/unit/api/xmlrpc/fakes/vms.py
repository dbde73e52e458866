"""FakeVms (the VmPort: VMs in memory, jobs run instantly) and FakeVolumes (the VolumePort:
disk hot-plug recorded only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from tests.unit.api.xmlrpc.fakes.identity import NOW
from tests.unit.api.xmlrpc.fakes.images import FakeImages
from tests.unit.api.xmlrpc.fakes.networks import FakeNetworks

from stratuslab.api.xmlrpc.backend import DiskRequest, NicRequest, UserTemplate, VmQuery, VmRequest
from stratuslab.core.commands import VmCommand
from stratuslab.core.entities import Principal, Vm
from stratuslab.core.errors import InvalidState, NotFound
from stratuslab.core.states import VmState, allowed_from, next_state, step_done
from stratuslab.core.vmspec import InstanceSpec

_TRANSIENT = (
    VmState.SHUTDOWN,
    VmState.POWEROFF_PENDING,
    VmState.EPILOG,
    VmState.BOOT,
    VmState.SAVE,
    VmState.RESTORE,
    VmState.REBOOT,
)

__all__ = ["FakeVms", "FakeVolumes"]


class FakeVms:
    def __init__(
        self, calls: list[tuple[Any, ...]], images: FakeImages, networks: FakeNetworks
    ) -> None:
        self.calls = calls
        self.images = images
        self.networks = networks
        self.records: dict[int, Vm] = {}

    def allocate(self, principal: Principal, request: VmRequest, *, hold: bool) -> int:
        self.calls.append(("vm_allocate", request, hold))
        image_id = request.disks[0].image_id
        if image_id not in self.images.records:
            raise NotFound("image", image_id, listing="one.imagepool.info")
        for nic in request.nics:
            if nic.network not in (None, "public") or nic.network_id not in (None, 0):
                raise NotFound("network", nic.network or nic.network_id, "one.vnpool.info")
        vm_id = max(self.records, default=-1) + 1
        self.records[vm_id] = Vm(
            vm_id,
            request.name or f"one-{vm_id}",
            principal.user,
            principal.groups[0],
            (VmState.HOLD if hold else VmState.PENDING).value,
            image_id,
            request.instance_type or "m1.small",
            request.vcpu or 1,
            request.memory_mib or 512,
            spec=InstanceSpec(context=dict(request.context)),
            created_at=NOW,
            updated_at=NOW,
        )
        return vm_id

    def boot(self, vm_id: int) -> None:
        """What the job runner would do to a pending VM."""
        vm = self.records[vm_id]
        self.records[vm_id] = replace(
            vm, state="running", host="node-1", ip="10.1.0.7", mac="02:00:0a:01:00:07"
        )

    def get(self, principal: Principal, vm_id: int) -> Vm:
        if vm_id not in self.records:
            raise NotFound("VM", vm_id)
        return self.records[vm_id]

    def list(self, principal: Principal, query: VmQuery) -> Sequence[Vm]:
        self.calls.append(("vm_list", query))
        vms = [
            v for v in self.records.values() if query.states is None or v.vm_state in query.states
        ]
        if query.owner == "mine":
            vms = [v for v in vms if v.owner == principal.user]
        return vms[query.offset : None if query.limit is None else query.offset + query.limit]

    def action(self, principal: Principal, cmd: VmCommand) -> None:
        vm_id, action = cmd.vm_id, cmd.action
        self.calls.append(("vm_action", vm_id, action))
        vm = self.get(principal, vm_id)
        new = next_state(vm.vm_state, action)
        if new is None:
            raise InvalidState(
                what="VM",
                name=vm_id,
                state=vm.state,
                action=action.value,
                allowed=", ".join(allowed_from(action)),
            )
        while new in _TRANSIENT:
            new = step_done(new, action)  # the fake runs jobs instantly
        self.records[vm_id] = replace(vm, state=new.value, last_action=action.value)

    def rename(self, principal: Principal, vm_id: int, name: str) -> None:
        self.records[vm_id] = replace(self.get(principal, vm_id), name=name)

    def update(
        self, principal: Principal, vm_id: int, user_template: UserTemplate, *, merge: bool
    ) -> None:
        self.calls.append(("vm_update", vm_id, user_template, merge))

    def attach_nic(self, principal: Principal, vm_id: int, nic: NicRequest) -> None:
        self.networks.get(nic.network_id if nic.network_id is not None else -1)
        self.calls.append(("vm_attach_nic", vm_id, nic))

    def detach_nic(self, principal: Principal, vm_id: int, nic_id: int) -> None:
        self.calls.append(("vm_detach_nic", vm_id, nic_id))

    def deploy(self, principal: Principal, vm_id: int, host_id: int) -> None:
        self.calls.append(("vm_deploy", vm_id, host_id))

    def migrate(self, principal: Principal, vm_id: int, host_id: int, *, live: bool) -> None:
        raise NotImplementedError  # what a service that cannot migrate yet does

    def chown(self, principal: Principal, vm_id: int, user_id: int, group_id: int) -> None:
        self.calls.append(("vm_chown", vm_id, user_id, group_id))


    def resize(
        self, principal: Principal, vm_id: int, *, cpu: int | None, memory_mib: int | None
    ) -> None:
        self.calls.append(("vm_resize", vm_id, cpu, memory_mib))

    def save_disk(self, principal: Principal, vm_id: int, disk_id: int, name: str) -> int:
        self.calls.append(("vm_save_disk", vm_id, disk_id, name))
        return 9


class FakeVolumes:
    def __init__(self, calls: list[tuple[Any, ...]]) -> None:
        self.calls = calls

    def attach_disk(self, principal: Principal, vm_id: int, disk: DiskRequest) -> None:
        self.calls.append(("vm_attach_disk", vm_id, disk))

    def detach_disk(self, principal: Principal, vm_id: int, disk_id: int) -> None:
        self.calls.append(("vm_detach_disk", vm_id, disk_id))
