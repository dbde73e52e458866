"""What every part of the XML-RPC services backend shares: the services it translates to.

`Deps` carries the cloud's services (compute, images, identity, templates), the server's one
authenticator, and `extras`: the features that may or may not be wired (network, vm_nics,
volumes, vm_volumes, marketplace_images; the REST adapter's ctx.extras), looked up by
`has()`/`feature()`.
Imports core and services only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stratuslab.core.auth import Credentials
from stratuslab.core.entities import Principal, Role
from stratuslab.core.errors import NotFound, Unsupported
from stratuslab.services.compute import ComputeService
from stratuslab.services.identity import IdentityService
from stratuslab.services.images import ImageService
from stratuslab.services.templates import TemplateService

#: id lookups for rendering UID/GID only (names are already visible to the caller)
LOOKUP = Principal("oneadmin", 0, ("oneadmin",), frozenset({Role.ADMIN.value}), "internal")
ALL = 100_000  # "no limit" for listings the adapter filters further


@dataclass(frozen=True, slots=True)
class Deps:
    authenticate: Callable[[Credentials], Principal]
    compute: ComputeService
    images: ImageService
    identity: IdentityService
    templates: TemplateService
    #: live: features may appear after the backend is built
    extras: Mapping[str, Any] = field(default_factory=dict)
    #: node name -> (CPU in OpenNebula percent, 100 per core; memory KiB); (0, 0): unknown
    host_capacity: Callable[[str], tuple[int, int]] = lambda name: (0, 0)

    def has(self, name: str) -> bool:
        return self.extras.get(name) is not None

    def feature(self, name: str, what: str) -> Any:
        """The optional service `name`; Unsupported(what) (0x800) when not wired."""
        service = self.extras.get(name)
        if service is None:
            raise Unsupported(what)
        return service


def unsupported(what: str) -> Unsupported:
    return Unsupported(what)


def host_name(compute: ComputeService, host_id: int) -> str:
    """OpenNebula host id -> node name: hosts are numbered in the configuration's order."""
    names = compute.placement.names()
    if not 0 <= host_id < len(names):
        raise NotFound("host", host_id, "one.hostpool.info")
    return names[host_id]
