"""Marketplace check at every launch: a `VmExtension` whose `validate` re-fetches and re-verifies
the signed metadata of an image that came from the marketplace and applies the site policy again,
so a deprecated, expired or newly blacklisted image is refused before anything is created.

Marketplace identifiers given as `--readonly-disk` are refused for now (not yet supported) with a
clear message.  Imports core and the service layer only.
"""

from __future__ import annotations

from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import Principal
from stratuslab.core.errors import InvalidInput
from stratuslab.core.marketplace import IDENTIFIER_RE, InvalidMetadata
from stratuslab.core.ports import UnitOfWorkFactory
from stratuslab.services.extensions import VmExtension
from stratuslab.services.marketplace.cloud import MarketplaceImages


class MarketplaceLaunchCheck(VmExtension):
    name = "marketplace"

    def __init__(self, uow: UnitOfWorkFactory, images: MarketplaceImages) -> None:
        self.uow = uow
        self.images = images

    def validate(self, principal: Principal, cmd: RunInstance) -> None:
        for ref in cmd.readonly_disks:
            if IDENTIFIER_RE.match(ref.strip()):
                raise InvalidInput(
                    f"--readonly-disk {ref}: marketplace images as read-only disks are not "
                    "supported yet",
                    hint="give a volume UUID, or boot the image itself: stratus run-instance " + ref,
                )
        with self.uow(readonly=True) as uow:
            image = uow.images.get(cmd.image_id)
        if image is None or not image.marketplace_id:
            return  # not a marketplace image (or unknown: compute says so)
        entry, _verdict = self.images.judge(image.marketplace_id)
        if image.sha1 and entry.sha1 and image.sha1.lower() != entry.sha1.lower():
            raise InvalidMetadata(
                f"image {image.id} holds SHA-1 {image.sha1} but marketplace entry "
                f"{entry.identifier} now says {entry.sha1}",
                hint=f"import it again: stratus run-instance {entry.identifier}",
            )
