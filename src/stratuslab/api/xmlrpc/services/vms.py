"""VMs over the ComputeService (the VmPort): run-instance from an OpenNebula template, VM
info and pools with their NICs and attached volumes, lifecycle actions, NIC hot-plug.

A template's DISKs split into the boot image (IMAGE_ID, IMAGE, or SOURCE naming an image, its
path or its Marketplace id), persistent volumes (SOURCE=<uuid> or pdisk:...), read-only
Marketplace disks and volatile disks (TYPE=fs/datablock, SIZE in MiB).  Translation only;
imports core, services and this package.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stratuslab.api.xmlrpc.backend import (
    DiskRequest,
    NicRequest,
    Rights,
    UserTemplate,
    VmQuery,
    VmRequest,
    merged_rights,
)
from stratuslab.api.xmlrpc.context import translate
from stratuslab.api.xmlrpc.services.common import ALL, LOOKUP, Deps, host_name, unsupported
from stratuslab.api.xmlrpc.services.networks import NetworkCalls
from stratuslab.api.xmlrpc.services.volumes import (
    VolumeCalls,
    is_readonly,
    marketplace_id,
    volume_uuid,
)
from stratuslab.core.commands import RunInstance, VmCommand
from stratuslab.core.entities import Principal, Vm
from stratuslab.core.errors import Conflict, InvalidInput, NotFound
from stratuslab.core.ports import Page
from stratuslab.core.states import VmState

_TRANSITION = re.compile(r"^([a-z_-]+) -> ([a-z_-]+)\b")
_EXTRA_DISK_TYPES = ("swap", "fs", "datablock", "volatile")


@dataclass(frozen=True, slots=True)
class _Disks:
    boot: DiskRequest
    persistent: tuple[str, ...]
    readonly: tuple[str, ...]
    volatile_gb: tuple[int, ...]


class VmCalls:
    def __init__(self, deps: Deps, networks: NetworkCalls, volumes: VolumeCalls) -> None:
        self.deps = deps
        self.networks = networks
        self.volumes = volumes

    # ---- VMs -----------------------------------------------------------------------------
    def allocate(self, principal: Principal, request: VmRequest, *, hold: bool) -> int:
        made = self.deps.compute.run(principal, self.run_command(principal, request, hold=hold))
        vm_id = made[0][0].id
        assert vm_id is not None
        return vm_id

    def run_command(self, principal: Principal, request: VmRequest, *, hold: bool) -> RunInstance:
        disks = self._split_disks(request.disks)
        context = translate(request.context)
        if request.inbound_ports:
            raise unsupported("INBOUND_PORTS (security groups)")
        cpu = request.vcpu or (math.ceil(request.cpu) if request.cpu else None)
        return RunInstance(
            image_id=self._image_id(principal, disks.boot),
            instance_type=request.instance_type,
            cpu=cpu,
            ram_mib=request.memory_mib,
            swap_mib=request.swap_mib,
            name=context.hostname or request.name,
            hold=hold,
            context_method="one" if request.context else "cloud-init",
            context=context.variables,
            ssh_keys=context.ssh_keys,
            volatile_gb=disks.volatile_gb,
            persistent_disks=disks.persistent,
            readonly_disks=disks.readonly,
            nics=tuple(self.networks.nic_command(principal, nic) for nic in request.nics),
            requirements=request.requirements,
            rank=request.rank,
        )

    @staticmethod
    def _split_disks(disks: Sequence[DiskRequest]) -> _Disks:
        """The boot image disk, volumes (persistent, read-only), read-only Marketplace disks and
        volatile sizes in GB; swap is VmRequest.swap_mib already."""
        extra = [d for d in disks if d.attrs.get("TYPE", "").lower() in _EXTRA_DISK_TYPES]
        volumes = [d for d in disks if d not in extra and volume_uuid(d)]
        images = [d for d in disks if d not in extra and d not in volumes]
        if not images:
            if volumes:
                raise unsupported("booting from a persistent volume (give an image DISK)")
            raise InvalidInput("the VM template has no image DISK (IMAGE_ID, IMAGE or SOURCE)")
        market = [marketplace_id(d) for d in images[1:]]
        if None in market:
            raise unsupported("more than one image DISK (give volumes as DISK=[SOURCE=uuid])")
        volatile = []
        for disk in extra:
            if disk.attrs.get("TYPE", "").lower() in ("fs", "datablock", "volatile"):
                size = disk.attrs.get("SIZE", "")
                if not size.isdigit():
                    raise InvalidInput(f"volatile DISK SIZE={size!r} is not a size in MiB")
                volatile.append(max(1, math.ceil(int(size) / 1024)))
        return _Disks(
            boot=images[0],
            persistent=tuple(str(volume_uuid(d)) for d in volumes if not is_readonly(d)),
            readonly=(
                *(str(volume_uuid(d)) for d in volumes if is_readonly(d)),
                *(str(m) for m in market),
            ),
            volatile_gb=tuple(volatile),
        )

    def _image_id(self, principal: Principal, disk: DiskRequest) -> int:
        if disk.image_id is not None:
            return disk.image_id
        wanted = disk.image or disk.source
        if not wanted:
            raise InvalidInput("the image DISK needs IMAGE_ID, IMAGE or SOURCE")
        market = marketplace_id(disk)
        if market:
            # StratusLab clients name the marketplace entry (<marketplace>/metadata/<id>): use
            # this node's copy, or verify, apply the policy and import it now (once per image)
            images = self.deps.marketplace_images
            image = images.registered(market) or images.import_now(principal, market)
            assert image.id is not None  # stored
            return image.id
        for image in self.deps.images.list(principal):
            names = (image.name, image.path, image.source, image.marketplace_id)
            if image.id is not None and (
                wanted in names or (image.marketplace_id and wanted.endswith(image.marketplace_id))
            ):
                return image.id
        raise NotFound("image", wanted, "one.imagepool.info")

    def get(self, principal: Principal, vm_id: int) -> Vm:
        vm = self.networks.with_network_ids(self.deps.compute.get(principal, vm_id))
        previous = self._previous_state(principal, vm)
        if previous is not None:
            vm.spec = vm.spec.with_(prev_state=previous)
        return self.volumes.with_volumes(vm, self.volumes.attachments(principal))

    def _previous_state(self, principal: Principal, vm: Vm) -> str | None:
        """The state before the current one, from the VM's event log ("a -> b (why)")."""
        for event in reversed(self.deps.compute.events(principal, vm.id or 0)):
            match = _TRANSITION.match(event.message) if event.kind == "state" else None
            if match and match.group(2) == vm.state:
                return match.group(1)
        return None

    def list(self, principal: Principal, query: VmQuery) -> Sequence[Vm]:
        if query.states is not None and not query.states:
            return []
        owner: str | None = principal.user if query.owner == "mine" else None
        if query.owner == "user":
            try:
                # the name only: what of theirs the caller sees is compute's check
                owner = self.deps.identity.get_user(LOOKUP, query.user_id or 0).name
            except NotFound:
                return []
        states = tuple(s.value for s in query.states) if query.states is not None else ()
        include_done = query.states is None or VmState.DONE in query.states
        in_memory = query.owner in ("group", "mine+group") or query.id_range is not None
        page = Page(0, ALL) if in_memory else Page(query.offset, query.limit or ALL)
        vms, _total = self.deps.compute.list(  # all but -3 include VMs shared with the caller
            principal, owner=owner, states=states, include_done=include_done, page=page,
            shared=query.owner != "mine",
        )
        ids, attached = self.networks.network_ids(), self.volumes.attachments(principal)
        vms = [
            self.volumes.with_volumes(self.networks.with_network_ids(vm, ids), attached)
            for vm in vms
        ]
        if not in_memory:
            return vms
        if query.owner == "group":
            vms = [vm for vm in vms if vm.group in principal.groups]
        elif query.owner == "mine+group":
            vms = [vm for vm in vms if vm.owner == principal.user or vm.group in principal.groups]
        if query.id_range is not None:
            lo, hi = query.id_range
            vms = [vm for vm in vms if (vm.id or 0) >= lo and (hi is None or (vm.id or 0) <= hi)]
        end = None if query.limit is None else query.offset + query.limit
        return vms[query.offset : end]

    def action(self, principal: Principal, cmd: VmCommand) -> None:
        self.deps.compute.act(principal, cmd)

    def rename(self, principal: Principal, vm_id: int, name: str) -> None:
        self.deps.compute.rename(principal, vm_id, name)

    def update(
        self, principal: Principal, vm_id: int, user_template: UserTemplate, *, merge: bool
    ) -> None:
        values = {k.upper(): (dict(v) if isinstance(v, Mapping) else v) for k, v in user_template}
        self.deps.compute.update_user_template(principal, vm_id, values, merge=merge)

    def attach_nic(self, principal: Principal, vm_id: int, nic: NicRequest) -> None:
        cmd = self.networks.nic_command(principal, nic)
        self.deps.vm_nics.attach(principal, vm_id, cmd["network"], cmd.get("ip"))  # VmNics checks the caller

    def detach_nic(self, principal: Principal, vm_id: int, nic_id: int) -> None:
        self.deps.vm_nics.detach(principal, vm_id, str(nic_id))  # VmNics checks the caller

    def deploy(self, principal: Principal, vm_id: int, host_id: int) -> None:
        self.deps.compute.deploy(principal, vm_id, host_name(self.deps.compute, host_id))

    def migrate(self, principal: Principal, vm_id: int, host_id: int, *, live: bool) -> None:
        self.deps.compute.migrate(principal, vm_id, host_name(self.deps.compute, host_id))

    def chown(self, principal: Principal, vm_id: int, user_id: int, group_id: int) -> None:
        owner = user_id if user_id >= 0 else None
        group = group_id if group_id >= 0 else None
        if owner is None and group is None:
            self.deps.compute.get(principal, vm_id)  # -1/-1 changes nothing, but the VM must exist
            return
        self.deps.compute.chown(principal, vm_id, owner=owner, group=group)

    def lock(self, principal: Principal, vm_id: int, level: int, *, test: bool) -> None:
        if test and level and self.deps.compute.get(principal, vm_id).lock:
            raise Conflict(f"VM {vm_id} is already locked", hint="unlock it first")
        self.deps.compute.set_lock(principal, vm_id, level)

    def chmod(self, principal: Principal, vm_id: int, rights: Rights) -> None:
        vm = self.deps.compute.get(principal, vm_id)
        self.deps.compute.chmod(principal, vm_id, merged_rights(vm.permissions, rights))

    def resize(
        self, principal: Principal, vm_id: int, *, cpu: int | None, memory_mib: int | None
    ) -> None:
        self.deps.compute.resize(principal, vm_id, cpu=cpu, ram_mib=memory_mib)

    def save_disk(self, principal: Principal, vm_id: int, disk_id: int, name: str) -> int:
        if disk_id != 0:
            raise InvalidInput(f"disk {disk_id} of VM {vm_id} cannot be saved as an image",
                               hint="only the root disk (DISK_ID 0) can; volumes persist anyway")
        image = self.deps.images.save_vm_disk(principal, vm_id, name)
        assert image.id is not None
        return image.id
