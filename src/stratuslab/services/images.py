"""Images: register from a server file (admins) or a URL (downloaded by a job, see
services/imageimport.py) with a checksum, save a powered-off VM's disk as a new image, list,
show, delete."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from urllib.parse import urlparse

from stratuslab.core.entities import Image, ImageState, Job, Principal
from stratuslab.core.errors import Conflict, Forbidden, InvalidInput, InvalidState, NotFound
from stratuslab.core.imagebuild import ImageBuilderPort, ProgressFn
from stratuslab.core.ports import Clock, ImageStorePort, Page, UnitOfWorkFactory, VmFilter
from stratuslab.core.states import TERMINAL, VmState
from stratuslab.core.templates import checked_text
from stratuslab.services.common import record
from stratuslab.services.imageimport import UrlImports
from stratuslab.services.policy import (
    PRIVATE,
    Permissions,
    authorize,
    check_chown,
    check_gate,
    check_lock_level,
    checked_permissions,
)

SHA1_RE = re.compile(r"^[0-9a-fA-F]{40}$")
LISTING = "stratus image list"
PUBLIC = Permissions.parse("um-u--u--")  # everyone may see and use, only the owner manage


def image_permissions(image: Image) -> Permissions:
    return PUBLIC if image.public else PRIVATE


def check_inbound_ports(name: str, ports: Sequence[int]) -> list[int]:
    """The TCP ports an image opens in its VMs' default firewall, sorted, each once."""
    bad = [p for p in ports if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535]
    if bad:
        raise InvalidInput(f"image {name}: inbound port {bad[0]!r} is not a TCP port",
                           hint="give --inbound-port N with N from 1 to 65535")
    return sorted(set(ports))


def _check_request(name: str, sha1: str | None, inbound_ports: Sequence[int]) -> list[int]:
    if not name or len(name) > 128:
        raise InvalidInput("an image name must have 1 to 128 characters")
    if sha1 is not None and not SHA1_RE.match(sha1):
        raise InvalidInput(f"image {name}: --sha1 {sha1!r} is not 40 hex digits")
    return check_inbound_ports(name, inbound_ports)


class ImageService:
    def __init__(
        self, uow: UnitOfWorkFactory, store: ImageStorePort, clock: Clock, *,
        builder: ImageBuilderPort | None = None, wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.uow = uow
        self.store = store
        self.clock = clock
        self.builder = builder
        self.url_imports = UrlImports(uow, store, clock, wake=wake)

    def build(
        self, principal: Principal, recipe: str, *, name: str | None = None,
        progress: ProgressFn | None = None,
    ) -> Image:
        """Build the image a recipe describes (cached by the builder) and register it once."""
        check_gate(principal)
        if self.builder is None:
            raise InvalidInput("this server has no image builder", hint="check the server settings")
        built = self.builder.build(recipe, progress=progress)
        name = name or recipe
        with self.uow(readonly=True) as uow:
            for image in uow.images.list(principal.user):
                if image.sha1 == built.sha1 and image.owner == principal.user and image.name == name:
                    return image  # the same build, registered before
        return self._register(principal, name, built.path, sha1=built.sha1, kernel=built.kernel,
                             initrd=built.initrd, cmdline=built.cmdline, public=True)

    def register(
        self,
        principal: Principal,
        name: str,
        source: str,
        *,
        sha1: str | None = None,
        kernel: str | None = None,
        initrd: str | None = None,
        cmdline: str | None = None,
        public: bool = False,
        inbound_ports: Sequence[int] = (),
    ) -> Image:
        """Import an image the caller names: admins may give a path on the server, others an
        http(s) URL only (a server path would let a user read any file the server can).  A URL
        is downloaded by a job: the image comes back `importing` (see register_request)."""
        return self.register_request(
            principal, name, source, sha1=sha1, kernel=kernel, initrd=initrd, cmdline=cmdline,
            public=public, inbound_ports=inbound_ports)[0]

    def register_request(
        self,
        principal: Principal,
        name: str,
        source: str,
        *,
        sha1: str | None = None,
        kernel: str | None = None,
        initrd: str | None = None,
        cmdline: str | None = None,
        public: bool = False,
        inbound_ports: Sequence[int] = (),
    ) -> tuple[Image, Job | None]:
        """(image, None) for a server file, copied now; (importing image, its download job)
        when any source is a URL."""
        if not principal.is_admin:
            for what, src in (("image", source), ("kernel", kernel), ("initrd", initrd)):
                if src and urlparse(src).scheme not in ("http", "https"):
                    raise Forbidden(
                        f"{what} source {src} is a path on the server; only admins may import "
                        "server files", hint="give an http(s) URL, or ask an admin to register it")
        if any(src and urlparse(src).scheme in ("http", "https")
               for src in (source, kernel, initrd)):
            return self._queue_download(principal, name, source, sha1=sha1, kernel=kernel,
                                        initrd=initrd, cmdline=cmdline, public=public,
                                        inbound_ports=inbound_ports)
        return self._register(principal, name, source, sha1=sha1, kernel=kernel, initrd=initrd,
                              cmdline=cmdline, public=public, inbound_ports=inbound_ports), None

    def _queue_download(
        self, principal: Principal, name: str, source: str, *, sha1: str | None,
        kernel: str | None, initrd: str | None, cmdline: str | None, public: bool,
        inbound_ports: Sequence[int],
    ) -> tuple[Image, Job]:
        check_gate(principal)
        ports = _check_request(name, sha1, inbound_ports)
        image = Image(
            None, name, principal.user, principal.groups[0] if principal.groups else "users",
            "", "raw", 0, (sha1 or "").lower(), public=public, source=source, cmdline=cmdline,
            created_at=self.clock.now(), inbound_ports=ports,
        )
        return self.url_imports.queue(image, sha1=sha1, kernel=kernel, initrd=initrd)

    def _register(
        self,
        principal: Principal,
        name: str,
        source: str,
        *,
        sha1: str | None = None,
        kernel: str | None = None,
        initrd: str | None = None,
        cmdline: str | None = None,
        public: bool = False,
        inbound_ports: Sequence[int] = (),
    ) -> Image:
        check_gate(principal)
        ports = _check_request(name, sha1, inbound_ports)
        stored = self.store.import_image(source, expected_sha1=sha1, name=name)
        boot = {}
        for label, path in (("kernel", kernel), ("initrd", initrd)):
            if path:
                boot[label] = self.store.import_image(path, expected_sha1=None, name=f"{name} {label}").path
        image = Image(
            None, name, principal.user, principal.groups[0] if principal.groups else "users",
            stored.path, stored.format, stored.size_bytes, stored.sha1, public=public,
            source=source, kernel=boot.get("kernel"), initrd=boot.get("initrd"), cmdline=cmdline,
            created_at=self.clock.now(), inbound_ports=ports,
        )
        with self.uow() as uow:
            uow.images.add(image)
            uow.commit()
        return image

    def clone(self, principal: Principal, image_id: int, name: str) -> Image:
        """A private copy of a ready image the caller may use (OpenNebula's image.clone): the
        stored bytes re-read and checked against the image's SHA-1 (the store keeps equal bytes
        once, read-only), the boot settings and inbound ports kept, the caller the owner."""
        image = self.get(principal, image_id)
        if image.state != ImageState.READY.value:
            raise InvalidState(what="image", name=f"{image_id} ({image.name})", state=image.state,
                               action="clone it", allowed="ready")
        return self._register(principal, name, image.path, sha1=image.sha1, kernel=image.kernel,
                              initrd=image.initrd, cmdline=image.cmdline,
                              inbound_ports=image.inbound_ports)

    def save_vm_disk(self, principal: Principal, vm_id: int, name: str) -> Image:
        """Flatten a powered-off VM's root disk into a new private image of the caller's, booted
        like the VM's image (kernel, initrd, command line, inbound ports)."""
        if not name or len(name) > 128:
            raise InvalidInput("an image name must have 1 to 128 characters")
        with self.uow(readonly=True) as uow:
            vm = uow.vms.get(vm_id)
            source = uow.images.get(vm.image_id) if vm is not None else None
        if vm is None:
            raise NotFound("VM", vm_id, "stratus describe-instance")
        authorize(principal, "update", vm.owner, vm.group, PRIVATE, what="VM", ident=vm_id,
                  lock=vm.lock)
        if vm.vm_state is not VmState.POWEROFF:
            raise InvalidState(what="VM", name=f"{vm_id} ({vm.name})", state=vm.state,
                               action="save its disk as an image",
                               allowed="poweroff; power it off first, then save")
        disks = (vm.spec.prepared or {}).get("disks") or []
        root = next((d for d in disks if d.get("name") == "root"), None)
        if root is None or source is None:
            raise Conflict(f"VM {vm_id} ({vm.name}) has no root disk on its node",
                           hint="only VMs booted from an image can save their disk")
        stored = self.store.import_flattened(str(root["source"]), name=name,
                                             fmt=str(root.get("format") or "qcow2"))
        now = self.clock.now()
        image = Image(
            None, name, principal.user, principal.groups[0] if principal.groups else "users",
            stored.path, stored.format, stored.size_bytes, stored.sha1, public=False,
            source=f"disk of VM {vm_id}", kernel=source.kernel, initrd=source.initrd,
            cmdline=source.cmdline, created_at=now, inbound_ports=list(source.inbound_ports),
        )
        with self.uow() as uow:
            current = uow.vms.get(vm_id)
            if current is None or current.vm_state is not VmState.POWEROFF:  # moved meanwhile
                raise InvalidState(what="VM", name=str(vm_id),
                                   state=current.state if current else "gone",
                                   action="save its disk as an image", allowed="poweroff")
            uow.images.add(image)
            record(uow, vm_id, now, "request", principal.user,
                   f"disk saved as image {image.id}", host=current.host)
            uow.commit()
        return image

    def list(self, principal: Principal) -> list[Image]:
        check_gate(principal)
        with self.uow(readonly=True) as uow:
            return uow.images.list(None if principal.is_admin else principal.user)

    def get(self, principal: Principal, image_id: int, *, action: str = "read",
            locked: bool = False) -> Image:
        """The image if the caller may do `action` on it (`locked`: whatever its lock)."""
        with self.uow(readonly=True) as uow:
            image = uow.images.get(image_id)
        if image is None or image.state == ImageState.DELETED:
            raise NotFound("image", image_id, LISTING)
        authorize(principal, action, image.owner, image.group, image_permissions(image),
                  what="image", ident=image_id, listing=LISTING,
                  lock=0 if locked else image.lock)
        return image

    def set_lock(self, principal: Principal, image_id: int, level: int) -> Image:
        """Lock (a LOCK_LEVELS level) or unlock (0) an image: MANAGE on it, as OpenNebula."""
        check_lock_level(level)
        image = self.get(principal, image_id, action="manage", locked=True)
        image.lock = level
        with self.uow() as uow:
            uow.images.update(image)
            uow.commit()
        return image

    def set_enabled(self, principal: Principal, image_id: int, enabled: bool) -> Image:
        """Disable (new VMs may not start from it; running ones keep it) or enable again."""
        image = self.get(principal, image_id, action="manage")
        image.state = (ImageState.READY if enabled else ImageState.DISABLED).value
        with self.uow() as uow:
            uow.images.update(image)
            uow.commit()
        return image

    def chmod(self, principal: Principal, image_id: int, permissions: str) -> Image:
        """An image is private (um-------) or public (um-u--u--: everyone may see and boot it);
        other rights are refused rather than kept half-applied."""
        image = self.get(principal, image_id, action="manage")
        text = checked_permissions(principal, permissions, what=f"image {image_id}")
        if text not in (str(PRIVATE), str(PUBLIC)):
            raise InvalidInput(
                f"image {image_id} cannot have the rights {text}: an image is private "
                f"({PRIVATE}) or public ({PUBLIC})",
                hint="give use to both group and others (public) or to neither (private)")
        image.public = text == str(PUBLIC)
        return self._save(image)

    def chown(self, principal: Principal, image_id: int, *, owner: str | None,
              group: str | None) -> Image:
        image = self.get(principal, image_id, action="manage")
        check_chown(principal, what=f"image {image_id}", owner=owner, group=group,
                    current_owner=image.owner)
        if owner is not None and owner != image.owner:
            self._check_unique(owner, image.name)
        image.owner = owner or image.owner
        image.group = group or image.group
        return self._save(image)

    def rename(self, principal: Principal, image_id: int, name: str) -> Image:
        image = self.get(principal, image_id, action="manage")
        _check_request(name, None, [])
        self._check_unique(image.owner, name)
        image.name = name
        return self._save(image)

    def update_template(self, principal: Principal, image_id: int, text: str) -> Image:
        """Replace the image's free-form attributes (OpenNebula TEMPLATE; not used to boot)."""
        image = self.get(principal, image_id, action="manage")
        image.template = checked_text(f"image {image_id}", text)
        return self._save(image)

    def _check_unique(self, owner: str, name: str) -> None:
        with self.uow(readonly=True) as uow:
            if any(i.name == name and i.owner == owner for i in uow.images.list(owner)):
                raise Conflict(f"image {name} of {owner} already exists",
                               hint="choose another name, or delete the old image first")

    def _save(self, image: Image) -> Image:
        with self.uow() as uow:
            uow.images.update(image)
            uow.commit()
        return image

    def delete(self, principal: Principal, image_id: int) -> None:
        image = self.get(principal, image_id, action="delete")
        with self.uow() as uow:
            users = [
                vm.id for vm in uow.vms.list(VmFilter(include_done=False), Page(0, 10_000))
                if vm.image_id == image_id and vm.state not in TERMINAL
            ]
            if users:
                raise Conflict(
                    f"image {image_id} is used by VM {', '.join(map(str, users[:10]))}",
                    hint="kill those VMs first: stratus kill-instance ID",
                )
            image.state = ImageState.DELETED.value
            uow.images.update(image)
            uow.commit()
