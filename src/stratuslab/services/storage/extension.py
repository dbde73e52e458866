"""Volumes in the VM lifecycle: `run-instance --persistent-disk UUID` (several allowed) and
read-only volumes given with `--readonly-disk UUID`, plugged into the compute service and the
lifecycle executor through their extension hooks (services/extensions.py).

- `on_create` claims the volumes in the transaction that creates the VM, with the same
  compare-and-swap as a hot-plug: a writable volume already held makes the whole request fail
  with the message naming the VM that holds it;
- `on_prolog` exports them on the storage backend and returns the disks to boot with;
- `on_node_release` unexports volumes no other VM still uses;
- `on_finish` forgets the attachments in the transaction that ends the VM: the volumes stay
  intact and owned by their user.

Volatile disks (`--volatile-disk GB`) live in the node's instance storage; this extension also
records each as a volume of kind `volatile` in pool `local` while its VM lives, so that they
appear in `describe-volumes` and count against the storage quota, released when the VM ends.
The VM's copy-on-write root disk (also in the node's instance storage) is recorded as a volume
of kind `root` in pool `local` (not charged to the quota): when the VM ends `done` it goes to
quarantine with the VM (`quarantined_at` set; purged after the retention by
`VolumeService.purge_quarantine`), when a deploy fails it is dropped.

Imports `core` and the service layer only.
"""

from __future__ import annotations

import math
import uuid as uuidlib
from collections.abc import Callable, Mapping

from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import Principal, Vm
from stratuslab.core.errors import InvalidInput
from stratuslab.core.hypervisor import DiskSpec
from stratuslab.core.node import Node
from stratuslab.core.ports import Clock, UnitOfWork
from stratuslab.core.volumes import (
    UUID_RE,
    Attachment,
    Volume,
    VolumeBackendPort,
    VolumeKind,
    VolumeRepo,
    VolumeState,
    disk_name_for,
)
from stratuslab.services.extensions import PrologAdditions, VmExtension
from stratuslab.services.storage import rules
from stratuslab.services.storage.quotas import QuotaAccountant
from stratuslab.services.storage.uow import VolumeUnitOfWork, quotas, volumes

#: the pseudo-pool of volatile disks: the node's instance storage, not a volume backend
LOCAL_POOL = "local"


def _volume_uuids(refs: tuple[str, ...]) -> list[str]:
    """`--readonly-disk` also takes Marketplace ids; only UUIDs name volumes."""
    return [r.strip().lower() for r in refs if UUID_RE.match(r.strip().lower())]


class VolumeExtension(VmExtension):
    name = "volumes"

    def __init__(
        self,
        uow: Callable[[], VolumeUnitOfWork],
        backends: Mapping[str, VolumeBackendPort],
        *,
        clock: Clock,
        quota_accountant: QuotaAccountant | None = None,
        new_uuid: Callable[[], str] = lambda: str(uuidlib.uuid4()),
    ) -> None:
        self._uow = uow
        self._backends = dict(backends)
        self._clock = clock
        self._quotas = quota_accountant or QuotaAccountant()
        self._new_uuid = new_uuid

    def validate(self, principal: Principal, cmd: RunInstance) -> None:
        for uuid in cmd.persistent_disks:
            rules.validate_uuid(uuid)
        if cmd.count > 1 and cmd.persistent_disks:
            writable = ", ".join(cmd.persistent_disks)
            raise InvalidInput(
                f"{cmd.count} VMs cannot share persistent volume(s) {writable}",
                hint="a writable volume is attached to one VM at a time: run one VM, or make "
                "the volume read-only (stratus update-volume --readonly UUID)",
            )

    def on_create(self, uow: UnitOfWork, principal: Principal, vm: Vm, cmd: RunInstance) -> None:
        assert vm.id is not None
        self._claim(uow, principal, vm.id, cmd)
        self._record_root(uow, vm)
        self._record_volatile(uow, vm, cmd.volatile_gb)

    def _claim(self, uow: UnitOfWork, principal: Principal, vm_id: int, cmd: RunInstance) -> None:
        repo = volumes(uow)
        now = self._clock.now()
        claims = [(rules.validate_uuid(u), False) for u in cmd.persistent_disks]
        claims += [(u, True) for u in _volume_uuids(cmd.readonly_disks)]
        for uuid, forced_ro in claims:
            vol = rules.visible(principal, repo.get(uuid), uuid)
            rules.check_attachable(vol, vm_id)
            # --persistent-disk asks to write (owner only); --readonly-disk never writes
            readonly = True if forced_ro else rules.attach_readonly(principal, vol, write=True)
            att = Attachment(uuid, vm_id, readonly=readonly, attached_at=now)
            refusal = repo.try_attach(att, exclusive=not readonly)
            if refusal is not None:
                raise rules.refusal_error(vol, vm_id, refusal)

    def _record_root(self, uow: UnitOfWork, vm: Vm) -> None:
        images = getattr(uow, "images", None)  # the cloud's unit of work; storage fakes lack it
        image = images.get(vm.image_id) if images is not None else None
        size = max(1, math.ceil((image.size_bytes if image else 0) / 2**30))
        now = self._clock.now()
        vol = Volume(
            uuid=self._new_uuid(), owner=vm.owner, group=vm.group, size_gb=size,
            pool=LOCAL_POOL, tag=f"root of VM {vm.id}", kind=VolumeKind.ROOT,
            parent=f"image:{vm.image_id}", vm_id=vm.id, created_at=now, updated_at=now,
        )  # fmt: skip
        volumes(uow).add(vol)
        volumes(uow).cas_state(vol.uuid, VolumeState.CREATING, VolumeState.READY)

    def _record_volatile(self, uow: UnitOfWork, vm: Vm, sizes: tuple[int, ...]) -> None:
        now = self._clock.now()
        for i, size in enumerate(sizes, start=1):
            vol = Volume(
                uuid=self._new_uuid(), owner=vm.owner, group=vm.group,
                size_gb=rules.validate_size(size, what=f"volatile disk {i} of VM {vm.id}"),
                pool=LOCAL_POOL, tag=f"volatile-{i} of VM {vm.id}", kind=VolumeKind.VOLATILE,
                vm_id=vm.id, created_at=now, updated_at=now,
            )  # fmt: skip
            self._quotas.charge(quotas(uow), vol)
            volumes(uow).add(vol)
            volumes(uow).cas_state(vol.uuid, VolumeState.CREATING, VolumeState.READY)

    def on_prolog(self, vm: Vm, node: Node) -> PrologAdditions:
        disks = []
        with self._uow() as uow:
            repo = volumes(uow)
            held = [(a, repo.get(a.volume_uuid)) for a in repo.attachments_of_vm(vm.id or 0)]
        for att, vol in held:
            if vol is None:
                continue
            backend = self._backends[vol.pool]
            source = backend.export(vol.uuid)
            disks.append(
                DiskSpec(
                    name=disk_name_for(vol.uuid),
                    source=source,
                    format=vol.format or backend.source_format(vol.uuid),
                    readonly=att.readonly,
                    auth=backend.credentials(vol.uuid),
                )
            )
        return PrologAdditions(disks=tuple(disks))

    def on_node_release(self, vm: Vm, node: Node) -> None:
        with self._uow() as uow:
            repo = volumes(uow)
            mine = repo.attachments_of_vm(vm.id or 0)
            alone = [
                (a.volume_uuid, repo.get(a.volume_uuid))
                for a in mine
                if all(o.vm_id == vm.id for o in repo.attachments(a.volume_uuid))
            ]
        for uuid, vol in alone:
            if vol is not None:
                self._backends[vol.pool].unexport(uuid)

    def on_finish(self, uow: UnitOfWork, vm: Vm, final_state: str) -> None:
        repo = volumes(uow)
        for att in repo.attachments_of_vm(vm.id or 0):
            repo.detach(att.volume_uuid, att.vm_id)
        for vol in repo.of_vm(vm.id or 0):
            if vol.pool != LOCAL_POOL:
                continue
            if vol.kind == VolumeKind.VOLATILE:
                if repo.cas_state(vol.uuid, VolumeState.READY, VolumeState.DELETED):
                    self._quotas.release(quotas(uow), vol)
            elif vol.kind == VolumeKind.ROOT:
                self._finish_root(repo, vol, final_state)

    def _finish_root(self, repo: VolumeRepo, vol: Volume, final_state: str) -> None:
        """Quarantined with a VM that ended `done`; dropped with a failed one (its instance
        directory was removed, not quarantined).  Never charged, so nothing to release."""
        if final_state != "done":
            repo.cas_state(vol.uuid, VolumeState.READY, VolumeState.DELETED)
        elif repo.cas_state(vol.uuid, VolumeState.READY, VolumeState.QUARANTINED):
            vol.quarantined_at = self._clock.now()
            vol.updated_at = vol.quarantined_at
            repo.update(vol)
