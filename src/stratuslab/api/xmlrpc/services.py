"""`ServicesBackend`: the XmlRpcBackend over the cloud's services (the same commands REST sends).

VMs go through ComputeService (run/get/list/act), images through ImageService, users and groups
through IdentityService, VM templates through TemplateService, hosts are the compute nodes.
Authentication is the server's one chain.  Networks, NICs and volumes come from the `extras`
mapping (the REST adapter's ctx.extras: "network", "vm_nics", "volumes", "vm_volumes") when those
are wired; what no service can do yet raises NotImplementedError (the dispatcher answers 0x800).
Translation only: every check is the services'.  Imports core, services and this package; never
drivers, persistence or settings.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stratuslab.api.xmlrpc.acl import FIXED_HINT, FIXED_POLICY, acl_rules
from stratuslab.api.xmlrpc.backend import (
    AclRecord,
    DatastoreRecord,
    DiskRequest,
    HostRecord,
    ImageAllocate,
    NicRequest,
    TemplateRecord,
    UserTemplate,
    VmQuery,
    VmRequest,
)
from stratuslab.api.xmlrpc.context import translate
from stratuslab.api.xmlrpc.networks import NetworkCalls
from stratuslab.api.xmlrpc.volumes import VolumeCalls, is_readonly, marketplace_id, volume_uuid
from stratuslab.core.auth import Credentials
from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import Group, Image, Principal, Role, User, Vm
from stratuslab.core.errors import InvalidInput, NotFound
from stratuslab.core.ports import Page
from stratuslab.core.states import VmAction, VmState
from stratuslab.services.compute import ComputeService
from stratuslab.services.identity import IdentityService, require_admin
from stratuslab.services.images import ImageService
from stratuslab.services.templates import TemplateService

#: id lookups for rendering UID/GID only (names are already visible to the caller)
_LOOKUP = Principal("oneadmin", 0, ("oneadmin",), frozenset({Role.ADMIN.value}), "internal")
_ALL = 100_000  # "no limit" for listings the adapter filters further
_EXTRA_DISK_TYPES = ("swap", "fs", "datablock", "volatile")


@dataclass(frozen=True, slots=True)
class _Disks:
    boot: DiskRequest
    persistent: tuple[str, ...]
    readonly: tuple[str, ...]
    volatile_gb: tuple[int, ...]


def _unsupported(what: str) -> NotImplementedError:
    return NotImplementedError(what)


class ServicesBackend(NetworkCalls, VolumeCalls):
    def __init__(
        self,
        *,
        authenticate: Callable[[Credentials], Principal],
        compute: ComputeService,
        images: ImageService,
        identity: IdentityService,
        templates: TemplateService,
        extras: Mapping[str, Any] | None = None,
    ) -> None:
        self._authenticate = authenticate
        self.compute = compute
        self.images = images
        self.identity = identity
        self.templates = templates
        self.extras = extras if extras is not None else {}  # live: features may appear later

    # ---- identity ------------------------------------------------------------------------
    def authenticate(self, credentials: Credentials) -> Principal:
        return self._authenticate(credentials)

    def user_id(self, name: str) -> int:
        try:
            return self.identity.get_user(_LOOKUP, name).id or 0
        except NotFound:
            return -1

    def group_id(self, name: str) -> int:
        return next((g.id for g in self.identity.list_groups(_LOOKUP) if g.name == name), -1) or 0

    # ---- VMs -----------------------------------------------------------------------------
    def vm_allocate(self, principal: Principal, request: VmRequest, *, hold: bool) -> int:
        made = self.compute.run(principal, self.run_command(principal, request, hold=hold))
        vm_id = made[0][0].id
        assert vm_id is not None
        return vm_id

    def run_command(self, principal: Principal, request: VmRequest, *, hold: bool) -> RunInstance:
        disks = self._split_disks(request.disks)
        context = translate(request.context)
        if request.inbound_ports:
            raise _unsupported("INBOUND_PORTS (security groups)")
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
            nics=tuple(self.nic_command(principal, nic) for nic in request.nics),
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
                raise _unsupported("booting from a persistent volume (give an image DISK)")
            raise InvalidInput("the VM template has no image DISK (IMAGE_ID, IMAGE or SOURCE)")
        market = [marketplace_id(d) for d in images[1:]]
        if None in market:
            raise _unsupported("more than one image DISK (give volumes as DISK=[SOURCE=uuid])")
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
        for image in self.images.list(principal):
            names = (image.name, image.path, image.source, image.marketplace_id)
            if image.id is not None and (
                wanted in names or (image.marketplace_id and wanted.endswith(image.marketplace_id))
            ):
                return image.id
        raise NotFound("image", wanted, "one.imagepool.info")

    def vm_get(self, principal: Principal, vm_id: int) -> Vm:
        vm = self.with_network_ids(self.compute.get(principal, vm_id))
        return self.with_volumes(vm, self.attachments(principal))

    def vm_list(self, principal: Principal, query: VmQuery) -> Sequence[Vm]:
        if query.states is not None and not query.states:
            return []
        owner: str | None = principal.user if query.owner == "mine" else None
        if query.owner == "user":
            try:
                owner = self.identity.get_user(principal, query.user_id or 0).name
            except NotFound:
                return []
        states = tuple(s.value for s in query.states) if query.states is not None else ()
        include_done = query.states is None or VmState.DONE in query.states
        in_memory = query.owner == "group" or query.id_range is not None
        page = Page(0, _ALL) if in_memory else Page(query.offset, query.limit or _ALL)
        vms, _total = self.compute.list(
            principal, owner=owner, states=states, include_done=include_done, page=page
        )
        ids, attached = self.network_ids(), self.attachments(principal)
        vms = [self.with_volumes(self.with_network_ids(vm, ids), attached) for vm in vms]
        if not in_memory:
            return vms
        if query.owner == "group":
            vms = [vm for vm in vms if vm.group in principal.groups]
        if query.id_range is not None:
            lo, hi = query.id_range
            vms = [vm for vm in vms if (vm.id or 0) >= lo and (hi is None or (vm.id or 0) <= hi)]
        end = None if query.limit is None else query.offset + query.limit
        return vms[query.offset : end]

    def vm_action(self, principal: Principal, vm_id: int, action: VmAction) -> None:
        self.compute.act(principal, vm_id, action)

    def vm_rename(self, principal: Principal, vm_id: int, name: str) -> None:
        self.compute.rename(principal, vm_id, name)

    def vm_update(
        self, principal: Principal, vm_id: int, user_template: UserTemplate, *, merge: bool
    ) -> None:
        values = {k.upper(): (dict(v) if isinstance(v, Mapping) else v) for k, v in user_template}
        self.compute.update_user_template(principal, vm_id, values, merge=merge)

    def vm_attach_nic(self, principal: Principal, vm_id: int, nic: NicRequest) -> None:
        nics = self.extras.get("vm_nics")
        if nics is None:
            raise _unsupported("attaching NICs")
        cmd = self.nic_command(principal, nic)
        vm = self.compute.get(principal, vm_id, action="action")
        nics.attach(principal, vm, cmd["network"], cmd.get("ip"))

    def vm_detach_nic(self, principal: Principal, vm_id: int, nic_id: int) -> None:
        nics = self.extras.get("vm_nics")
        if nics is None:
            raise _unsupported("detaching NICs")
        nics.detach(principal, self.compute.get(principal, vm_id, action="action"), str(nic_id))

    def vm_deploy(self, principal: Principal, vm_id: int, host_id: int) -> None:
        self.compute.deploy(principal, vm_id, self._host_name(host_id))

    def vm_migrate(self, principal: Principal, vm_id: int, host_id: int, *, live: bool) -> None:
        self.compute.migrate(principal, vm_id, self._host_name(host_id))

    def vm_chown(self, principal: Principal, vm_id: int, user_id: int, group_id: int) -> None:
        owner = user_id if user_id >= 0 else None
        group = group_id if group_id >= 0 else None
        if owner is None and group is None:
            self.compute.get(principal, vm_id)  # -1/-1 changes nothing, but the VM must exist
            return
        self.compute.chown(principal, vm_id, owner=owner, group=group)

    # ---- images --------------------------------------------------------------------------
    def image_get(self, principal: Principal, image_id: int) -> Image:
        return self.images.get(principal, image_id)

    def image_list(self, principal: Principal) -> Sequence[Image]:
        return self.images.list(principal)

    def image_allocate(self, principal: Principal, request: ImageAllocate) -> int:
        if request.type != "OS" or request.persistent:
            raise _unsupported(f"{request.type.lower()} / persistent images (use volumes)")
        source = request.path or request.source
        if not source:
            raise InvalidInput(f"image {request.name} has neither PATH nor SOURCE")
        image = self.images.register(principal, request.name, source)
        assert image.id is not None
        return image.id

    def image_delete(self, principal: Principal, image_id: int) -> None:
        self.images.delete(principal, image_id)

    def image_enable(self, principal: Principal, image_id: int, *, enabled: bool) -> None:
        self.images.set_enabled(principal, image_id, enabled)

    def image_persistent(self, principal: Principal, image_id: int, *, persistent: bool) -> None:
        self.images.get(principal, image_id, action="manage")
        if persistent:  # non-persistent is what every image here is: nothing to change
            raise InvalidInput(f"image {image_id} cannot become persistent: images are "
                               "read-only bases here", hint="use a persistent volume instead")

    def image_chtype(self, principal: Principal, image_id: int, image_type: str) -> None:
        self.images.get(principal, image_id, action="manage")
        if image_type != "OS":  # every image here boots a VM: OS is the only type
            raise InvalidInput(f"image {image_id} cannot become {image_type}: images here are "
                               "OS images", hint="use a volume for data (DATABLOCK) disks")

    # ---- users and groups ----------------------------------------------------------------
    def user_get(self, principal: Principal, user_id: int) -> User:
        return self.identity.get_user(principal, principal.user_id if user_id < 0 else user_id)

    def user_list(self, principal: Principal) -> Sequence[User]:
        return self.identity.list_users(principal)

    def user_allocate(
        self, principal: Principal, name: str, password: str, *, driver: str, groups: Sequence[int]
    ) -> int:
        known = {g.id: g.name for g in self.identity.list_groups(principal)}
        for gid in groups:
            if gid not in known:
                raise NotFound("group", gid, "one.grouppool.info")
        names = [known[g] for g in groups] or None
        if driver in ("", "core"):
            user = self.identity.create_user(principal, name, password, groups=names)
        elif driver == "x509":  # OpenNebula's x509 driver: the "password" is the subject DN
            user = self.identity.create_user(
                principal, name, secrets.token_urlsafe(24), groups=names, dn=password
            )
        else:
            raise _unsupported(f"the {driver!r} authentication driver (use core or x509)")
        assert user.id is not None
        return user.id

    def user_passwd(self, principal: Principal, user_id: int, password: str) -> None:
        self.identity.set_password(principal, user_id, password)

    def user_chgrp(self, principal: Principal, user_id: int, group_id: int) -> None:
        groups = self.identity.list_groups(_LOOKUP)  # the service checks the caller's right
        group = next((g for g in groups if g.id == group_id), None)
        if group is None:
            raise NotFound("group", group_id, "one.grouppool.info")
        self.identity.set_primary_group(principal, user_id, group.name)

    def user_delete(self, principal: Principal, user_id: int) -> None:
        self.identity.delete_user(principal, user_id)

    def group_get(self, principal: Principal, group_id: int) -> Group:
        for group in self.identity.list_groups(principal):
            if group.id == group_id:
                return group
        raise NotFound("group", group_id, "one.grouppool.info")

    def group_list(self, principal: Principal) -> Sequence[Group]:
        return self.identity.list_groups(principal)

    def group_allocate(self, principal: Principal, name: str) -> int:
        return self.identity.create_group(principal, name).id or 0

    def group_delete(self, principal: Principal, group_id: int) -> None:
        self.identity.delete_group(principal, self.group_get(principal, group_id).name)

    # ---- hosts: the compute nodes ----------------------------------------------------------
    def host_list(self, principal: Principal) -> Sequence[HostRecord]:
        vms, _ = self.compute.list(principal, page=Page(0, _ALL))
        hosts = []
        for index, name in enumerate(self.compute.placement.names()):
            node = self.compute.nodes[name]
            here = [vm for vm in vms if vm.host == name]
            real = node.hypervisor.capabilities.real_guests
            hosts.append(
                HostRecord(
                    id=index,
                    name=name,
                    vm_mad="qemu" if real else "simulated",
                    state=2 if self.compute.placement.is_enabled(name) else 4,  # MONITORED/DISABLED
                    used_cpu=100 * sum(vm.vcpu for vm in here),
                    used_mem_kib=1024 * sum(vm.memory_mib for vm in here),
                    running_vms=sum(vm.vm_state is VmState.RUNNING for vm in here),
                    vm_ids=tuple(vm.id for vm in here if vm.id is not None),
                )
            )
        return hosts

    def _host_name(self, host_id: int) -> str:
        names = self.compute.placement.names()
        if not 0 <= host_id < len(names):
            raise NotFound("host", host_id, "one.hostpool.info")
        return names[host_id]

    def host_allocate(self, principal: Principal, name: str, *, im_mad: str, vm_mad: str) -> int:
        raise InvalidInput(f"cannot add host {name}: hosts come from the server's configuration",
                           hint="configure the node in the server settings and restart it")

    def host_enable(self, principal: Principal, host_id: int, *, enabled: bool) -> None:
        self.compute.set_host_enabled(principal, self._host_name(host_id), enabled)

    def host_delete(self, principal: Principal, host_id: int) -> None:
        name = self._host_name(host_id)
        raise InvalidInput(f"cannot remove host {name}: hosts come from the server's "
                           "configuration", hint="disable it instead (one.host.enable ID false)")

    # ---- VM templates --------------------------------------------------------------------
    def template_allocate(self, principal: Principal, name: str, body: str) -> int:
        return self.templates.create(principal, name, body).id or 0

    def template_get(self, principal: Principal, template_id: int) -> TemplateRecord:
        t = self.templates.get(principal, template_id)
        return TemplateRecord(t.id or 0, t.name, t.owner, t.group, t.body, t.created_at)

    def template_list(self, principal: Principal) -> Sequence[TemplateRecord]:
        return [
            TemplateRecord(t.id or 0, t.name, t.owner, t.group, t.body, t.created_at)
            for t in self.templates.list(principal)
        ]

    def template_update(self, principal: Principal, template_id: int, body: str) -> None:
        self.templates.update(principal, template_id, body)

    def template_delete(self, principal: Principal, template_id: int) -> None:
        self.templates.delete(principal, template_id)

    # ---- ACLs, datastores ----------------------------------------------------------------
    def acl_list(self, principal: Principal) -> Sequence[AclRecord]:
        require_admin(principal, "read the ACL rules")
        return acl_rules(
            self.group_id("users"),
            [u.id for u in self.identity.list_users(_LOOKUP)
             if u.id is not None and Role.ADMIN.value in u.roles],
        )

    def acl_add(self, principal: Principal, user: int, resource: int, rights: int) -> int:
        raise InvalidInput(FIXED_POLICY, hint=FIXED_HINT)

    def acl_delete(self, principal: Principal, rule_id: int) -> None:
        raise InvalidInput(FIXED_POLICY, hint=FIXED_HINT)

    def datastore_list(self, principal: Principal) -> Sequence[DatastoreRecord]:
        images = self.images.list(principal)
        used = sum(i.size_bytes for i in images) // (1024 * 1024)
        ids = tuple(i.id for i in images if i.id is not None)
        return [DatastoreRecord(1, "default", used_mb=used, image_ids=ids)]
