"""`ServicesBackend`: the OcciBackend over the cloud's services (the same commands REST sends).

Compute goes through ComputeService (run/get/list/act; delete is the `kill` action), os_tpl
mixins are ImageService's images and resource_tpl mixins the compute instance types.
Authentication is the server's one chain.  Networks, storage and their links go through the
network and storage services of CloudServices; what they cannot do yet raises Unsupported (501).  Translation only.
Imports core, services and this package; never drivers, persistence or settings.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from stratuslab.api.occi.backend import ComputeRequest, LinkRecord
from stratuslab.api.occi.networks import NetworkCalls
from stratuslab.api.occi.storage import StorageCalls
from stratuslab.core.auth import Credentials
from stratuslab.core.commands import KillVm, RunInstance, VmCommand
from stratuslab.core.entities import Image, InstanceType, Principal, Vm
from stratuslab.core.errors import InvalidInput, NotFound
from stratuslab.core.occimixins import UserMixin
from stratuslab.core.ports import Page
from stratuslab.core.states import VmState
from stratuslab.services.catalog import CloudServices

_ALL = 100_000


def _user_data(encoded: str | None) -> str | None:
    """occi.compute.userdata is base64 (OCCI Infrastructure 1.2); the services take the text."""
    if encoded is None:
        return None
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            "occi.compute.userdata is not base64-encoded UTF-8 text",
            hint="encode the cloud-config with base64",
        ) from None


class ServicesBackend(NetworkCalls, StorageCalls):
    def __init__(self, services: CloudServices, *, default_image: int | None = None) -> None:
        self.services = services
        self.compute = services.compute
        self.images = services.images
        self.default_image = default_image  # [occi] default_image: for computes without os_tpl

    def authenticate(self, credentials: Credentials) -> Principal:
        return self.services.authenticate(credentials)

    # ---- template mixins -------------------------------------------------------------------
    def os_templates(self, principal: Principal) -> Sequence[Image]:
        return self.images.list(principal)

    def resource_templates(self, principal: Principal) -> Sequence[InstanceType]:
        return list(self.compute.types.types.values())

    # ---- compute ---------------------------------------------------------------------------
    def compute_create(self, principal: Principal, request: ComputeRequest) -> int:
        for storage_id, _device in request.storage:
            self.storage_get(principal, storage_id)  # 404 before anything is made
        image_id = request.image_id
        if image_id is None:  # OCCI allows a compute without os_tpl: the cloud's default image
            if self.default_image is None:
                raise InvalidInput(
                    "a compute needs an os_tpl mixin (the image): this cloud has no default image",
                    hint="add one of the os_tpl mixins of GET /-/ (administrators can set "
                    "[occi] default_image)",
                )
            image_id = self.default_image
        cmd = RunInstance(
            image_id=image_id,
            instance_type=request.instance_type,
            cpu=request.cores,
            ram_mib=request.memory_mib,
            name=request.name,
            ssh_keys=request.ssh_keys,
            user_data=_user_data(request.user_data),
            nics=tuple({"network": self.network_name(n)} for n in request.network_ids),
            persistent_disks=tuple(storage_id for storage_id, _ in request.storage),
        )
        vm_id = self.compute.run(principal, cmd)[0][0].id
        assert vm_id is not None
        return vm_id

    def compute_get(self, principal: Principal, vm_id: int) -> Vm:
        vm = self.compute.get(principal, vm_id)
        if vm.vm_state is VmState.DONE:  # deleted, as far as OCCI is concerned
            raise NotFound("compute", vm_id, "GET /occi/compute/")
        return vm

    def compute_list(self, principal: Principal) -> Sequence[Vm]:
        return self.compute.list(principal, page=Page(0, _ALL))[0]

    def compute_action(self, principal: Principal, cmd: VmCommand) -> None:
        self.compute.act(principal, cmd)

    def compute_save(self, principal: Principal, vm_id: int, name: str | None) -> int:
        """Save a stopped compute's disk as a new image (an os_tpl); default name
        "<compute title>-saved"."""
        vm = self.compute_get(principal, vm_id)
        image = self.images.save_vm_disk(principal, vm_id, name or f"{vm.name}-saved")
        assert image.id is not None
        return image.id

    def compute_delete(self, principal: Principal, vm_id: int) -> None:
        self.compute_get(principal, vm_id)
        self.compute.act(principal, KillVm(vm_id))

    def compute_update(
        self,
        principal: Principal,
        vm_id: int,
        *,
        name: str | None = None,
        cores: int | None = None,
        memory_mib: int | None = None,
    ) -> None:
        """Title renames at any time; cores/memory only on a powered-off compute (409 else)."""
        self.compute_get(principal, vm_id)
        if cores is not None or memory_mib is not None:  # first: a refusal changes nothing
            self.compute.resize(principal, vm_id, cpu=cores, ram_mib=memory_mib)
        if name is not None:
            self.compute.rename(principal, vm_id, name)

    # ---- links -----------------------------------------------------------------------------
    def link_create(
        self,
        principal: Principal,
        kind: str,
        compute_id: int,
        target_id: int | str,
        attributes: Mapping[str, Any],
    ) -> str:
        vm = self.compute_get(principal, compute_id)
        if kind == "storagelink":
            return self.attach_storage(principal, vm, str(target_id))
        return self.attach_nic(principal, vm, int(target_id), attributes)

    def link_list(
        self, principal: Principal, compute_id: int | None = None
    ) -> Sequence[LinkRecord]:
        if compute_id is not None:
            vms: Sequence[Vm] = [self.compute_get(principal, compute_id)]
        else:
            vms = self.compute_list(principal)
        return [*self.nic_links(vms), *self.storage_links(principal, vms)]

    def link_delete(self, principal: Principal, link_id: str) -> None:
        vm_id, _, target = link_id.partition("_")
        if not vm_id.isdigit():
            raise NotFound("link", link_id, "GET /occi/link/")
        vm = self.compute_get(principal, int(vm_id))
        if target.isdigit():  # <vm>_<nic index>: a networkinterface
            self.detach_nic(principal, vm, int(target))
            return
        self.detach_storage(principal, vm, target)

    # ---- user-defined mixins ---------------------------------------------------------------
    def user_mixins(self, principal: Principal) -> Sequence[UserMixin]:
        return self.services.occi_mixins.list(principal)

    def mixin_define(self, principal: Principal, mixin: UserMixin) -> UserMixin:
        return self.services.occi_mixins.define(principal, mixin)

    def mixin_remove(self, principal: Principal, type_id: str) -> None:
        self.services.occi_mixins.remove(principal, type_id)

    def mixin_tag(
        self, principal: Principal, location: str, members: Sequence[str], mode: str
    ) -> None:
        self.services.occi_mixins.tag(principal, location, members, mode=mode)
