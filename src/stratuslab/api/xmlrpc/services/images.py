"""`one.image.*` over the ImageService (the ImagePort).  Every image here is a read-only OS
base; persistent and data disks are volumes.  Translation only; imports core, services and this
package."""

from __future__ import annotations

from collections.abc import Sequence

from stratuslab.api.xmlrpc.backend import ImageAllocate, Rights, merged_rights
from stratuslab.api.xmlrpc.services.common import Deps, owner_names, unsupported
from stratuslab.core.entities import Image, Principal
from stratuslab.core.errors import Conflict, InvalidInput, NotFound
from stratuslab.services.images import PUBLIC
from stratuslab.services.policy import PRIVATE

#: the one image datastore (one.datastorepool.info lists it)
IMAGE_DATASTORE = 1


class ImageCalls:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def get(self, principal: Principal, image_id: int) -> Image:
        return self.deps.images.get(principal, image_id)

    def list(self, principal: Principal) -> Sequence[Image]:
        return self.deps.images.list(principal)

    def _check_new(self, principal: Principal, name: str, datastore_id: int) -> None:
        if datastore_id != IMAGE_DATASTORE:
            raise NotFound("datastore", datastore_id, "one.datastorepool.info")
        mine = (i for i in self.deps.images.list(principal) if i.owner == principal.user)
        if any(i.name == name for i in mine):  # OpenNebula: names unique per owner
            raise Conflict(f"image {name} of {principal.user} already exists",
                           hint="choose another NAME, or delete the old one (one.image.delete)")

    def allocate(self, principal: Principal, request: ImageAllocate) -> int:
        self._check_new(principal, request.name, request.datastore_id)
        if request.type != "OS" or request.persistent:
            raise unsupported(f"{request.type.lower()} / persistent images (use volumes)")
        source = request.path or request.source
        if not source:
            raise InvalidInput(f"image {request.name} has neither PATH nor SOURCE")
        image = self.deps.images.register(principal, request.name, source)
        assert image.id is not None
        return image.id

    def clone(self, principal: Principal, image_id: int, name: str, datastore_id: int) -> int:
        self.deps.images.get(principal, image_id)  # an unknown source before a name clash
        self._check_new(principal, name, IMAGE_DATASTORE if datastore_id < 0 else datastore_id)
        image = self.deps.images.clone(principal, image_id, name)
        assert image.id is not None
        return image.id

    def delete(self, principal: Principal, image_id: int) -> None:
        self.deps.images.delete(principal, image_id)

    def enable(self, principal: Principal, image_id: int, *, enabled: bool) -> None:
        self.deps.images.set_enabled(principal, image_id, enabled)

    def persistent(self, principal: Principal, image_id: int, *, persistent: bool) -> None:
        self.deps.images.get(principal, image_id, action="manage")
        if persistent:  # non-persistent is what every image here is: nothing to change
            raise InvalidInput(
                f"image {image_id} cannot become persistent: images are read-only bases here",
                hint="use a persistent volume instead",
            )

    def chmod(self, principal: Principal, image_id: int, rights: Rights) -> None:
        image = self.deps.images.get(principal, image_id)
        current = str(PUBLIC if image.public else PRIVATE)
        self.deps.images.chmod(principal, image_id, merged_rights(current, rights))

    def chown(self, principal: Principal, image_id: int, user_id: int, group_id: int) -> None:
        owner, group = owner_names(self.deps, user_id, group_id)
        self.deps.images.chown(principal, image_id, owner=owner, group=group)

    def rename(self, principal: Principal, image_id: int, name: str) -> None:
        self.deps.images.rename(principal, image_id, name)

    def update(self, principal: Principal, image_id: int, text: str) -> None:
        self.deps.images.update_template(principal, image_id, text)

    def lock(self, principal: Principal, image_id: int, level: int, *, test: bool) -> None:
        if test and level and self.deps.images.get(principal, image_id).lock:
            raise Conflict(f"image {image_id} is already locked", hint="unlock it first")
        self.deps.images.set_lock(principal, image_id, level)

    def chtype(self, principal: Principal, image_id: int, image_type: str) -> None:
        self.deps.images.get(principal, image_id, action="manage")
        if image_type != "OS":  # every image here boots a VM: OS is the only type
            raise InvalidInput(
                f"image {image_id} cannot become {image_type}: images here are OS images",
                hint="use a volume for data (DATABLOCK) disks",
            )
