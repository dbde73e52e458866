"""Volume errors: each names the volume and the way out.  Only the standard library."""

from __future__ import annotations

from stratuslab.core.errors import Conflict, InvalidState, NotFound, QuotaExceeded


class VolumeNotFound(NotFound):
    """Also raised for another user's private volume, so existence does not leak (404)."""

    def __init__(self, uuid: str) -> None:
        super().__init__("volume", uuid, listing="stratus describe-volumes")


class VolumeAttached(Conflict):
    template = "volume {uuid} is attached to VM {vm_id}"
    hint_template = "detach it first: stratus detach-volume -i {vm_id} {uuid}"

    def __init__(self, uuid: str, vm_id: int) -> None:
        super().__init__(uuid=uuid, vm_id=vm_id)


class VolumeHasChildren(Conflict):
    template = "volume {uuid} has {count} copy-on-write children ({first}...)"
    hint_template = "delete them first: stratus delete-volume {first}"

    def __init__(self, uuid: str, children: list[str]) -> None:
        super().__init__(uuid=uuid, count=len(children), first=children[0])


class VolumeStateError(InvalidState):
    def __init__(self, uuid: str, state: str, action: str, allowed: str, hint: str) -> None:
        super().__init__(
            what="volume", name=uuid, state=state, action=action, allowed=allowed, hint=hint
        )


class StorageQuotaExceeded(QuotaExceeded):
    template = (
        "storage quota of {subject} exceeded by volume {uuid} "
        "(quota: {limit} {unit}, used: {used}, requested: {requested})"
    )
    hint_template = "delete volumes you no longer need (stratus delete-volume UUID) or ask an admin"
