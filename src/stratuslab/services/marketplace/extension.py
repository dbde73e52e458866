"""Marketplace at every launch, as a `VmExtension`:

- `validate` re-fetches and re-verifies the signed metadata of an image that came from the
  marketplace and applies the site policy again (so a deprecated, expired or newly blacklisted
  image is refused before anything is created), and does the same for marketplace identifiers
  given as read-only disks (`RunInstance.readonly_disks`; volume UUIDs there are the storage
  feature's);
- `on_create` records those identifiers in the VM's spec (`marketplace_disks`);
- `before_boot` (every boot: deploy, start after poweroff/stop, resume) re-checks the signed
  metadata, the trust and the site policy as they are now, and the cached image bytes against the
  signed checksums (a stat when unchanged); a tampered cache file is moved aside and fetched
  again.  A refusal is an `image-refused` event in the VM's log and an audit line, a re-fetch an
  `image-refetched` event;
- `on_prolog` makes sure each is in the node's cache (downloading it once, verified) and adds it
  as a read-only disk.
Imports core and the service layer only.
"""

from __future__ import annotations

import logging

from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import Image, Principal, Vm
from stratuslab.core.errors import CloudError
from stratuslab.core.hypervisor import DiskSpec
from stratuslab.core.marketplace import IDENTIFIER_RE, MetadataEntry, UntrustedImage
from stratuslab.core.node import Node
from stratuslab.core.ports import UnitOfWork, UnitOfWorkFactory
from stratuslab.services.common import record
from stratuslab.services.extensions import PrologAdditions, VmExtension
from stratuslab.services.marketplace.cloud import MarketplaceImages

audit = logging.getLogger("stratuslab.audit")


def marketplace_refs(refs: tuple[str, ...]) -> list[str]:
    return [r.strip() for r in refs if IDENTIFIER_RE.match(r.strip())]


class MarketplaceLaunchCheck(VmExtension):
    name = "marketplace"

    def __init__(self, uow: UnitOfWorkFactory, images: MarketplaceImages) -> None:
        self.uow = uow
        self.images = images

    def validate(self, principal: Principal, cmd: RunInstance) -> None:
        for ref in marketplace_refs(cmd.readonly_disks):
            self.images.judge(ref)
        with self.uow(readonly=True) as uow:
            image = uow.images.get(cmd.image_id)
        if image is None or not image.marketplace_id:
            return  # not a marketplace image (or unknown: compute says so)
        entry, _verdict = self.images.judge(image.marketplace_id)
        _check_same_image(image, entry)

    def on_create(self, uow: UnitOfWork, principal: Principal, vm: Vm, cmd: RunInstance) -> None:
        refs = marketplace_refs(cmd.readonly_disks)
        if refs:
            # file: locations: admins' VMs only
            vm.spec = vm.spec.with_(marketplace_disks=tuple(refs),
                                    marketplace_file_locations=principal.is_admin)

    def before_boot(self, vm: Vm, node: Node) -> None:
        with self.uow(readonly=True) as uow:
            image = uow.images.get(vm.image_id)
        if image is not None and image.marketplace_id:
            self._check(vm, image.marketplace_id, image, allow_files=_was_file_import(image))
        for ref in vm.spec.marketplace_disks:
            self._check(vm, ref, None, allow_files=vm.spec.marketplace_file_locations)

    def _check(self, vm: Vm, ident: str, image: Image | None, *, allow_files: bool) -> None:
        try:
            entry, _verdict = self.images.judge(ident)
            if image is not None:
                _check_same_image(image, entry)
            _path, refetched = self.images.fetcher.checked(entry, allow_files=allow_files)
        except CloudError as exc:
            self._event(vm, "image-refused", f"marketplace image {ident} refused at boot: "
                        f"{exc.full_message}")
            audit.warning("boot refused: vm=%s owner=%s image=%s reason=%s",
                          vm.id, vm.owner, ident, exc.full_message)
            raise
        if refetched is not None:
            self._event(vm, "image-refetched", f"cached marketplace image {ident} did not match "
                        f"its signed checksums ({refetched}): moved aside and fetched again")
            audit.warning("tampered cache file moved aside: vm=%s image=%s reason=%s",
                          vm.id, ident, refetched)

    def _event(self, vm: Vm, kind: str, message: str) -> None:
        with self.uow() as uow:
            record(uow, vm.id or 0, self.images.clock.now(), kind, "system", message,
                   host=vm.host)
            uow.commit()

    def on_prolog(self, vm: Vm, node: Node) -> PrologAdditions:
        disks = []
        for i, ref in enumerate(vm.spec.marketplace_disks):
            entry, _verdict = self.images.judge(ref)
            path = self.images.fetcher.fetch(  # idempotent: cached once per node
                entry, allow_files=vm.spec.marketplace_file_locations)
            disks.append(DiskSpec(f"mkt-{i}", str(path), format=entry.format or "raw",
                                  readonly=True))
        return PrologAdditions(disks=tuple(disks))


def _check_same_image(image: Image, entry: MetadataEntry) -> None:
    """The registered image must still be the one the (current) entry signs."""
    if image.sha1 and entry.sha1 and image.sha1.lower() != entry.sha1.lower():
        raise UntrustedImage(
            f"image {image.id} holds SHA-1 {image.sha1} but marketplace entry "
            f"{entry.identifier} now says {entry.sha1}",
            hint=f"import it again: stratus run-instance {entry.identifier}")


def _was_file_import(image: Image) -> bool:
    """An admin's import read a `file:` location (only admins' imports may): fetching the same
    location again is allowed."""
    return bool(image.source and image.source.startswith("file:"))
