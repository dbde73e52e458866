"""The volume service: create, describe, update, delete, attach and detach persistent volumes,
and the volume side of a VM's end (detach persistent, quarantine root, drop volatile).

Each use case checks first (rules.py), records in one transaction (volume + quota together),
then acts through the pool's backend and records the outcome.  Backends, the unit of work and
the clock come by constructor.  Imports `core` only; never drivers, persistence or settings.
"""

from __future__ import annotations

import dataclasses
import uuid as uuidlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from stratuslab.core.entities import Principal
from stratuslab.core.errors import CloudError, Forbidden, InvalidInput, NotFound
from stratuslab.core.ports import Clock
from stratuslab.core.volumes import (
    Attachment,
    AttachPlan,
    CreateVolume,
    ParentFile,
    ParentKind,
    ParentRef,
    UpdateVolume,
    Volume,
    VolumeBackendPort,
    VolumeHasChildren,
    VolumeKind,
    VolumeRepo,
    VolumeState,
)
from stratuslab.services.storage import rules
from stratuslab.services.storage.filters import parse_filters, select
from stratuslab.services.storage.quotas import QuotaAccountant
from stratuslab.services.storage.uow import VolumeUnitOfWork, quotas, volumes


class VolumeService:
    def __init__(
        self,
        uow: Callable[[], VolumeUnitOfWork],
        backends: Mapping[str, VolumeBackendPort],
        *,
        clock: Clock,
        default_pool: str,
        quotas: QuotaAccountant | None = None,
        new_uuid: Callable[[], str] = lambda: str(uuidlib.uuid4()),
    ) -> None:
        if default_pool not in backends:
            raise InvalidInput(f"default storage pool {default_pool!r} has no backend")
        self._uow = uow
        self._backends = dict(backends)
        self._clock = clock
        self._default_pool = default_pool
        self._quotas = quotas or QuotaAccountant()
        self._new_uuid = new_uuid

    # --- create -----------------------------------------------------------------------------

    def create(
        self, principal: Principal, cmd: CreateVolume, *, group: str | None = None
    ) -> Volume:
        """Record and charge, make it in the backend, then mark it ready (or failed)."""
        volume, parent_file = self._prepare(principal, cmd, group)
        with self._uow() as uow:
            self._quotas.charge(quotas(uow), volume)
            volumes(uow).add(volume)
            uow.commit()
        backend = self._backend(volume.pool)
        try:
            location = backend.create(volume.uuid, volume.size_gb, parent_file)
        except CloudError as exc:
            self._mark_failed(volume, exc)
            raise
        with self._uow() as uow:
            volume.location = location
            volumes(uow).update(volume)
            volumes(uow).cas_state(volume.uuid, VolumeState.CREATING, VolumeState.READY)
            uow.commit()
        volume.state = VolumeState.READY.value
        return volume

    def _prepare(
        self, principal: Principal, cmd: CreateVolume, group: str | None
    ) -> tuple[Volume, ParentFile | None]:
        size = rules.validate_size(cmd.size_gb)
        tag = rules.validate_tag(cmd.tag)
        visibility = rules.validate_visibility(cmd.visibility)
        pool = cmd.pool or self._default_pool
        self._backend(pool)
        uuid = self._new_uuid()
        parent: ParentRef | None = None
        parent_file: ParentFile | None = None
        if cmd.parent_volume and cmd.parent_image:
            raise InvalidInput("a volume grows from one parent: give --cow or an image, not both")
        if cmd.parent_volume:
            src = self._parent_volume(principal, cmd.parent_volume, pool)
            parent = ParentRef(ParentKind.VOLUME, src.uuid)
            parent_file = ParentFile(str(src.location), rules.volume_format(src, self._backend(pool)))
            size = max(size, src.size_gb)
        elif cmd.parent_image:
            parent = ParentRef(ParentKind.IMAGE, str(cmd.parent_image.image_id))
            parent_file = ParentFile(cmd.parent_image.path, cmd.parent_image.format)
        now = self._clock.now()
        volume = Volume(
            uuid=uuid,
            format=self._backend(pool).source_format(uuid),
            owner=principal.user,
            group=group or _primary_group(principal),
            size_gb=size,
            pool=pool,
            tag=tag,
            visibility=visibility,
            kind=cmd.kind,
            readonly=cmd.readonly,
            parent=str(parent) if parent else None,
            vm_id=cmd.vm_id,
            created_at=now,
            updated_at=now,
        )
        return volume, parent_file

    def _parent_volume(self, principal: Principal, uuid: str, pool: str) -> Volume:
        uuid = rules.validate_uuid(uuid)
        with self._uow() as uow:
            src = rules.visible(principal, volumes(uow).get(uuid), uuid)
        if src.state != VolumeState.READY or src.location is None:
            raise rules.not_ready(src, "make a copy-on-write child of")
        if src.pool != pool:
            raise InvalidInput(
                f"volume {uuid} is in pool {src.pool}; its child must be in the same pool",
                hint=f"create the child with --pool {src.pool}",
            )
        return src

    def _mark_failed(self, volume: Volume, exc: CloudError) -> None:
        with self._uow() as uow:
            volume.error = exc.full_message
            volumes(uow).update(volume)
            volumes(uow).cas_state(volume.uuid, VolumeState.CREATING, VolumeState.FAILED)
            uow.commit()
        volume.state = VolumeState.FAILED.value

    # --- read / update ----------------------------------------------------------------------

    def get(self, principal: Principal, uuid: str) -> Volume:
        uuid = rules.validate_uuid(uuid)
        with self._uow() as uow:
            return rules.visible(principal, volumes(uow).get(uuid), uuid)

    def describe(
        self, principal: Principal, uuids: Sequence[str] = (), filters: Sequence[str] = ()
    ) -> list[Volume]:
        """The caller's volumes and public ones (all for admins), AND-filtered; named uuids
        that the caller cannot see are NotFound."""
        terms = parse_filters(filters)
        if uuids:
            found = [self.get(principal, u) for u in uuids]
        else:
            with self._uow() as uow:
                owner = None if principal.is_admin else principal.user
                found = volumes(uow).list(owner=owner)
            if not principal.is_admin:  # quarantined roots belong to the cloud now
                found = [v for v in found if v.state != VolumeState.QUARANTINED]
        return sorted(select(found, terms), key=lambda v: (str(v.created_at or ""), v.uuid))

    def update(self, principal: Principal, uuid: str, change: UpdateVolume) -> Volume:
        uuid = rules.validate_uuid(uuid)
        with self._uow() as uow:
            vol = rules.changeable(principal, volumes(uow).get(uuid), uuid, "update")
            if change.tag is not None:
                vol.tag = rules.validate_tag(change.tag, what=f"volume {uuid}")
            if change.visibility is not None:
                vol.visibility = rules.validate_visibility(change.visibility, what=f"volume {uuid}")
            if change.readonly is not None:
                rules.check_readonly_change(vol, change.readonly)
                vol.readonly = change.readonly
            vol.updated_at = self._clock.now()
            volumes(uow).update(vol)
            uow.commit()
            return vol

    # --- delete -----------------------------------------------------------------------------

    def delete(self, principal: Principal, uuid: str) -> Volume:
        uuid = rules.validate_uuid(uuid)
        with self._uow() as uow:
            vol = rules.changeable(principal, volumes(uow).get(uuid), uuid, "delete")
            rules.check_deletable(vol)
            children = volumes(uow).children(uuid)
            if children:
                raise VolumeHasChildren(uuid, sorted(c.uuid for c in children))
            if not volumes(uow).cas_state(
                uuid, vol.state, VolumeState.DELETING, require_detached=True
            ):
                # someone attached it (or moved it) between our read and the guarded update
                rules.check_deletable(_fresh(volumes(uow), uuid))
                raise rules.not_ready(_fresh(volumes(uow), uuid), "delete")
            uow.commit()
        return self._destroy(vol)

    def _destroy(self, vol: Volume) -> Volume:
        """Remove from the backend (none for node-local root volumes: the node's quarantine
        removes their bytes), then mark deleted and release the quota together."""
        try:
            if vol.pool in self._backends:
                self._backends[vol.pool].delete(vol.uuid)
        except CloudError as exc:
            with self._uow() as uow:
                vol.error = exc.full_message
                volumes(uow).update(vol)
                volumes(uow).cas_state(vol.uuid, VolumeState.DELETING, VolumeState.FAILED)
                uow.commit()
            raise
        with self._uow() as uow:
            won = volumes(uow).cas_state(vol.uuid, VolumeState.DELETING, VolumeState.DELETED)
            if won and vol.pool in self._backends:  # node-local roots were never charged
                self._quotas.release(quotas(uow), vol)
            uow.commit()
        vol.state = VolumeState.DELETED.value
        return vol

    # --- attach / detach --------------------------------------------------------------------

    def attach(
        self, principal: Principal, uuid: str, vm_id: int, *, write: bool | None = None
    ) -> AttachPlan:
        """Record the attachment (compare-and-swap: one writer) and export the volume; the
        caller hot-plugs `plan.source` and then calls `attached(...)` with the device name.
        Another user's public volume is attached read-only (rules.attach_readonly)."""
        uuid = rules.validate_uuid(uuid)
        with self._uow() as uow:
            vol = rules.visible(principal, volumes(uow).get(uuid), uuid)
            rules.check_attachable(vol, vm_id)
            readonly = rules.attach_readonly(principal, vol, write=write)
            att = Attachment(uuid, vm_id, readonly=readonly, attached_at=self._clock.now())
            refusal = volumes(uow).try_attach(att, exclusive=not readonly)
            if refusal is not None:
                raise rules.refusal_error(vol, vm_id, refusal)
            uow.commit()
        backend = self._backend(vol.pool)
        try:
            source = backend.export(uuid)
        except CloudError:
            self.release(uuid, vm_id)
            raise
        return AttachPlan(uuid, vm_id, source, rules.volume_format(vol, backend), readonly,
                          auth=backend.credentials(uuid))

    def mounts(self, principal: Principal, uuid: str) -> list[Attachment]:
        """The volume's attachments (VM and the device the guest sees), as pdisk's mounts."""
        vol = self.get(principal, uuid)
        with self._uow() as uow:
            return volumes(uow).attachments(vol.uuid)

    def attached(self, uuid: str, vm_id: int, device: str | None) -> None:
        with self._uow() as uow:
            volumes(uow).set_device(uuid, vm_id, device)
            uow.commit()

    def detach(self, principal: Principal, uuid: str, vm_id: int) -> Volume:
        """Forget the attachment (after the hypervisor unplugged it); unexport when no VM
        uses the volume any more."""
        uuid = rules.validate_uuid(uuid)
        with self._uow() as uow:
            vol = rules.visible(principal, volumes(uow).get(uuid), uuid)
        if vm_id not in vol.attached_to:
            raise NotFound(f"attachment of volume {uuid} to VM", vm_id, "stratus describe-volumes")
        return self.release(uuid, vm_id)

    def release(self, uuid: str, vm_id: int) -> Volume:
        """Forget the attachment of `uuid` to VM `vm_id` (no permission check: the system
        undoing a failed plug, or a VM's end) and unexport when no VM uses it any more."""
        with self._uow() as uow:
            volumes(uow).detach(uuid, vm_id)
            uow.commit()
            vol = _fresh(volumes(uow), uuid)
        if not vol.attached_to:
            self._backend(vol.pool).unexport(uuid)
        return vol

    # --- VM lifecycle -----------------------------------------------------------------------

    def release_vm(self, vm_id: int, *, quarantine_root: bool = True) -> list[Volume]:
        """A VM ended: detach its persistent volumes (they stay intact and owned by the user),
        quarantine its root volume, delete its volatile ones.  Idempotent."""
        with self._uow() as uow:
            attachments = volumes(uow).attachments_of_vm(vm_id)
        touched = [self.release(a.volume_uuid, vm_id) for a in attachments]
        with self._uow() as uow:
            own = volumes(uow).of_vm(vm_id)
        for vol in own:
            if vol.kind == VolumeKind.ROOT and quarantine_root:
                touched.append(self._quarantine(vol))
            elif vol.state not in (VolumeState.DELETED, VolumeState.QUARANTINED):
                touched += self._drop(vol)
        return touched

    def _drop(self, vol: Volume) -> list[Volume]:
        """Delete a VM's own volume; one in node-local storage (no backend) is only a record."""
        local = vol.pool not in self._backends
        with self._uow() as uow:
            target = VolumeState.DELETED if local else VolumeState.DELETING
            won = volumes(uow).cas_state(vol.uuid, vol.state, target, require_detached=True)
            if won and local:
                self._quotas.release(quotas(uow), vol)
            uow.commit()
        if not won:
            return []
        return [vol] if local else [self._destroy(vol)]

    def _quarantine(self, vol: Volume) -> Volume:
        with self._uow() as uow:
            if volumes(uow).cas_state(
                vol.uuid, vol.state, VolumeState.QUARANTINED, require_detached=True
            ):
                vol = dataclasses.replace(vol, quarantined_at=self._clock.now())
                volumes(uow).update(vol)
                vol.state = VolumeState.QUARANTINED.value
            uow.commit()
        return vol

    def purge_quarantine(self, before: datetime) -> list[Volume]:
        """Delete quarantined volumes put there before `before` (the retention has passed)."""
        with self._uow() as uow:
            due = [
                v
                for v in volumes(uow).list()
                if v.state == VolumeState.QUARANTINED
                and v.quarantined_at is not None
                and v.quarantined_at <= before
            ]
        return [v for v in (self._purge_one(vol) for vol in due) if v is not None]

    def _purge_one(self, vol: Volume) -> Volume | None:
        with self._uow() as uow:
            won = volumes(uow).cas_state(
                vol.uuid, VolumeState.QUARANTINED, VolumeState.DELETING, require_detached=True
            )
            uow.commit()
        return self._destroy(vol) if won else None

    def quarantined(self, principal: Principal) -> list[Volume]:
        """Quarantined volumes (admins): VMs' root volumes kept after the VM was killed."""
        _require_admin(principal, "list the storage quarantine")
        with self._uow() as uow:
            found = [v for v in volumes(uow).list() if v.state == VolumeState.QUARANTINED]
        return sorted(found, key=lambda v: (str(v.quarantined_at or ""), v.uuid))

    def purge(
        self, principal: Principal, uuid: str | None = None, *, before: datetime | None = None
    ) -> list[Volume]:
        """Purge one quarantined volume (any age), or those quarantined before `before`."""
        _require_admin(principal, "purge the storage quarantine")
        if uuid is None:
            return self.purge_quarantine(before or self._clock.now())
        vol = self.get(principal, uuid)
        if vol.state != VolumeState.QUARANTINED:
            raise rules.not_ready(vol, "purge from the quarantine")
        purged = self._purge_one(vol)
        return [purged] if purged else []

    def reexport_attached(self) -> int:
        """Export again every attached volume (after a storage node or tgtd restart the
        targets are gone while the records say attached).  Returns how many were exported."""
        with self._uow() as uow:
            attached = [v for v in volumes(uow).list() if v.attached_to]
        for vol in attached:
            self._backend(vol.pool).export(vol.uuid)
        return len(attached)

    def _backend(self, pool: str) -> VolumeBackendPort:
        try:
            return self._backends[pool]
        except KeyError:
            raise InvalidInput(
                f"storage pool {pool!r} does not exist",
                hint=f"choose one of: {', '.join(sorted(self._backends))}",
            ) from None


def _fresh(repo: VolumeRepo, uuid: str) -> Volume:
    vol = repo.get(uuid)
    if vol is None:
        raise NotFound("volume", uuid, "stratus describe-volumes")
    return vol


def _require_admin(principal: Principal, action: str) -> None:
    if not principal.is_admin:
        raise Forbidden(f"only admins may {action}; {principal.user} is not an admin")


def _primary_group(principal: Principal) -> str:
    return principal.groups[0] if principal.groups else "users"
