"""Pure rules of persistent volumes: input validation, who may see or change a volume, and
whether an attach may proceed.

No I/O and no repositories: functions of values that raise CloudErrors naming the volume and the
way out.  Imports `core` only.
"""

from __future__ import annotations

from stratuslab.core.entities import Principal
from stratuslab.core.errors import Forbidden, InvalidInput
from stratuslab.core.volumes import (
    MAX_SIZE_GB,
    MAX_TAG_LENGTH,
    MIN_SIZE_GB,
    UUID_RE,
    AttachRefusal,
    Visibility,
    Volume,
    VolumeAttached,
    VolumeBackendPort,
    VolumeKind,
    VolumeNotFound,
    VolumeState,
    VolumeStateError,
)


def validate_size(size_gb: object, *, what: str = "new volume") -> int:
    """1..1024 GiB, as pdisk; booleans and non-integers refused."""
    if isinstance(size_gb, bool) or not isinstance(size_gb, int):
        raise InvalidInput(
            f"size of {what} must be a whole number of GiB, not {size_gb!r}",
            hint=f"give -s/--size between {MIN_SIZE_GB} and {MAX_SIZE_GB}",
        )
    if not MIN_SIZE_GB <= size_gb <= MAX_SIZE_GB:
        raise InvalidInput(
            f"size of {what} is {size_gb} GiB; it must be between {MIN_SIZE_GB} and "
            f"{MAX_SIZE_GB} GiB",
            hint=f"give -s/--size between {MIN_SIZE_GB} and {MAX_SIZE_GB}",
        )
    return size_gb


def validate_tag(tag: str, *, what: str = "new volume") -> str:
    if len(tag) > MAX_TAG_LENGTH:
        raise InvalidInput(
            f"tag of {what} is {len(tag)} characters long; at most {MAX_TAG_LENGTH} are allowed",
            hint=f"shorten -t/--tag to {MAX_TAG_LENGTH} characters",
        )
    if any(ord(c) < 32 for c in tag):
        raise InvalidInput(
            f"tag of {what} contains control characters", hint="use printable characters only"
        )
    return tag


def validate_visibility(visibility: str, *, what: str = "new volume") -> str:
    allowed = [v.value for v in Visibility]
    if visibility not in allowed:
        raise InvalidInput(
            f"visibility of {what} is {visibility!r}; it must be one of {', '.join(allowed)}",
            hint="use --private (the default) or --public",
        )
    return visibility


def validate_uuid(uuid: str) -> str:
    """A malformed id cannot name a volume: answer as for an unknown one (404)."""
    text = uuid.strip().lower()
    if not UUID_RE.match(text):
        raise VolumeNotFound(uuid)
    return text


# --- access ---------------------------------------------------------------------------------


def can_see(principal: Principal, volume: Volume) -> bool:
    return principal.is_admin or volume.owner == principal.user or volume.is_public


def can_change(principal: Principal, volume: Volume) -> bool:
    return principal.is_admin or volume.owner == principal.user


def visible(principal: Principal, volume: Volume | None, uuid: str) -> Volume:
    """The volume if the caller may see it.  Another user's private volume is NotFound, never
    Forbidden, so that its existence does not leak."""
    if volume is None or volume.state == VolumeState.DELETED or not can_see(principal, volume):
        raise VolumeNotFound(uuid)
    return volume


def changeable(principal: Principal, volume: Volume | None, uuid: str, action: str) -> Volume:
    """The volume if the caller may change it; a public volume of someone else is Forbidden
    (the caller can see it exists), a private one NotFound."""
    vol = visible(principal, volume, uuid)
    if not can_change(principal, vol):
        raise Forbidden(
            f"volume {uuid} belongs to {vol.owner}; only its owner may {action} it",
            hint="make a copy-on-write child you own: stratus create-volume --cow " + uuid,
        )
    return vol


# --- attach ---------------------------------------------------------------------------------


def volume_format(volume: Volume, backend: VolumeBackendPort) -> str:
    """The format recorded at creation (volumes made before it was recorded: the pool's)."""
    return volume.format or backend.source_format(volume.uuid)


def attach_readonly(principal: Principal, volume: Volume, *, write: bool | None) -> bool:
    """Whether the attachment is read-only.  Writing needs ownership (or the admin role): a
    public volume of someone else is shared read-only at most, whatever the caller's group.

    `write` is what the caller asked for: True (`--persistent-disk`: refused on someone
    else's writable volume, naming `--readonly-disk`), False (`--readonly-disk`), None
    (hot-plug: the volume's own mode for its owner, read-only for everyone else).  A volume
    marked read-only is always attached read-only."""
    if write is False or volume.readonly:  # a read-only volume is attached read-only
        return True
    if can_change(principal, volume):
        return False
    if write:
        raise Forbidden(
            f"volume {volume.uuid} belongs to {volume.owner}; only its owner may attach it "
            "for writing",
            hint=f"attach it read-only: stratus run-instance --readonly-disk {volume.uuid}, or "
            f"make a copy you own: stratus create-volume --cow {volume.uuid}",
        )
    return True



def check_attachable(volume: Volume, vm_id: int) -> None:
    """Refuse what the record alone can refuse before trying the compare-and-swap."""
    if volume.kind == VolumeKind.VOLATILE:
        raise VolumeStateError(
            volume.uuid,
            "volatile",
            f"attach to VM {vm_id}",
            "persistent or root volumes",
            hint="volatile disks live and die with their VM; create a persistent volume instead",
        )
    if volume.state != VolumeState.READY:
        raise not_ready(volume, f"attach to VM {vm_id}")


def refusal_error(volume: Volume, vm_id: int, refusal: AttachRefusal) -> Exception:
    """Turn a lost compare-and-swap into the error the user sees."""
    if refusal.holder is not None:
        return VolumeAttached(volume.uuid, refusal.holder)
    return not_ready(volume, f"attach to VM {vm_id}", state=refusal.state)


def not_ready(volume: Volume, action: str, *, state: str | None = None) -> VolumeStateError:
    state = state or volume.state
    hints = {
        VolumeState.CREATING: "wait until it is ready: stratus describe-volumes " + volume.uuid,
        VolumeState.FAILED: f"delete it and create it again: stratus delete-volume {volume.uuid}",
        VolumeState.DELETING: "it is being deleted; create a new volume",
        VolumeState.QUARANTINED: "an admin may restore it before the quarantine is purged",
    }
    return VolumeStateError(
        volume.uuid,
        state,
        action,
        VolumeState.READY.value,
        hint=hints.get(VolumeState(state), "see stratus describe-volumes " + volume.uuid),
    )


def check_deletable(volume: Volume) -> None:
    if volume.kind == VolumeKind.VOLATILE and volume.vm_id is not None:
        raise VolumeStateError(
            volume.uuid, "volatile", "delete", "persistent volumes",
            hint=f"it goes away with VM {volume.vm_id}: stratus kill-instance {volume.vm_id}",
        )  # fmt: skip
    if volume.kind == VolumeKind.ROOT and volume.state != VolumeState.QUARANTINED:
        raise VolumeStateError(
            volume.uuid, f"root of VM {volume.vm_id}", "delete", "quarantined root volumes",
            hint=f"it goes to quarantine with VM {volume.vm_id}: stratus kill-instance "
            f"{volume.vm_id}",
        )  # fmt: skip
    if volume.attached_to:
        raise VolumeAttached(volume.uuid, volume.attached_to[0])
    deletable = (VolumeState.READY, VolumeState.FAILED, VolumeState.QUARANTINED)
    if volume.state not in deletable:
        raise not_ready(volume, "delete")


def check_readonly_change(volume: Volume, readonly: bool) -> None:
    """Writable -> read-only is safe only when detached; read-only -> writable only while no
    more than one VM shares it and none writes."""
    if readonly == volume.readonly or not volume.attached_to:
        return
    raise VolumeAttached(volume.uuid, volume.attached_to[0])
