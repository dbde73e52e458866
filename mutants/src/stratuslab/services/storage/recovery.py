"""Volumes a crash left half-way: at start-up, volumes still `creating` or `deleting` from
before the server started are moved to a state their owner can act on.

- `creating`: the create was interrupted (it runs inside the request that asked for it).  Bytes
  the backend may have written are removed and the volume becomes `failed` with the reason; the
  owner deletes it (which releases its quota) and creates it again.
- `deleting`: the delete is finished (backends delete idempotently): `deleted`, quota
  released; if the backend still fails, `failed` with the backend's message, deletable again.

Only records older than `before` are touched (the server's start: the dead process's work),
each change a compare-and-swap, so a second server doing the same cannot apply it twice.
Imports core and the service layer only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from stratuslab.core.errors import CloudError
from stratuslab.core.volumes import Volume, VolumeBackendPort, VolumeState
from stratuslab.services.storage.quotas import QuotaAccountant
from stratuslab.services.storage.uow import VolumeUnitOfWork, quotas, volumes

log = logging.getLogger("stratuslab.storage")
INTERRUPTED = ("creating volume {uuid} was interrupted (the server stopped); delete it and "
               "create it again: stratus delete-volume {uuid}")


class StuckVolumes:
    def __init__(self, uow: Callable[[], VolumeUnitOfWork],
                 backends: Mapping[str, VolumeBackendPort], *,
                 quota_accountant: QuotaAccountant) -> None:  # fmt: skip
        self._uow = uow
        self._backends = dict(backends)
        self._quotas = quota_accountant

    def recover(self, before: datetime) -> list[Volume]:
        """Move every volume stuck in creating/deleting since before `before`; returns them."""
        with self._uow() as uow:
            stuck = [v for v in volumes(uow).list()
                     if v.state in (VolumeState.CREATING, VolumeState.DELETING)
                     and v.pool in self._backends
                     and (v.updated_at or v.created_at or before) < before]
        done = [self._creating(v) if v.state == VolumeState.CREATING else self._deleting(v)
                for v in stuck]
        moved = [v for v in done if v is not None]
        if moved:
            log.warning("storage: recovered interrupted volumes %s",
                        [(v.uuid, v.state) for v in moved])
        return moved

    def _creating(self, vol: Volume) -> Volume | None:
        error = INTERRUPTED.format(uuid=vol.uuid)
        try:
            self._backends[vol.pool].delete(vol.uuid)
        except CloudError as exc:
            error += f" (its bytes could not be removed: {exc.full_message})"
        return self._move(vol, VolumeState.CREATING, VolumeState.FAILED, error)

    def _deleting(self, vol: Volume) -> Volume | None:
        try:
            self._backends[vol.pool].delete(vol.uuid)
        except CloudError as exc:
            return self._move(vol, VolumeState.DELETING, VolumeState.FAILED, exc.full_message)
        with self._uow() as uow:
            won = volumes(uow).cas_state(vol.uuid, VolumeState.DELETING, VolumeState.DELETED)
            if won:
                self._quotas.release(quotas(uow), vol)
            uow.commit()
        vol.state = VolumeState.DELETED.value
        return vol if won else None

    def _move(self, vol: Volume, old: VolumeState, new: VolumeState, error: str) -> Volume | None:
        with self._uow() as uow:
            won = volumes(uow).cas_state(vol.uuid, old, new)
            if won:
                vol.error, vol.state = error, new.value
                volumes(uow).update(vol)
            uow.commit()
        return vol if won else None
