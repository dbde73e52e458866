"""`ServicesBackend`: the XmlRpcBackend over the cloud's services (the same commands REST sends).

One part per port: VMs go through ComputeService (`vms`), images through ImageService
(`images`), users and groups through IdentityService (`identity`), virtual networks and volumes
through the network and storage features when they are wired (`networks`, `volumes`), hosts,
VM templates, ACLs and datastores through `system`.  Authentication is the server's one chain.
What no service can do yet raises core.errors.Unsupported (the dispatcher answers 0x800).
Translation only: every check is the services'.  Imports core, services and this package; never
drivers, persistence or settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from stratuslab.api.xmlrpc.services.common import Deps
from stratuslab.api.xmlrpc.services.identity import IdentityCalls
from stratuslab.api.xmlrpc.services.images import ImageCalls
from stratuslab.api.xmlrpc.services.networks import NetworkCalls
from stratuslab.api.xmlrpc.services.system import SystemCalls
from stratuslab.api.xmlrpc.services.vms import VmCalls
from stratuslab.api.xmlrpc.services.volumes import VolumeCalls
from stratuslab.core.auth import Credentials
from stratuslab.core.entities import Principal
from stratuslab.services.compute import ComputeService
from stratuslab.services.identity import IdentityService
from stratuslab.services.images import ImageService
from stratuslab.services.templates import TemplateService

__all__ = ["ServicesBackend"]


class ServicesBackend:
    def __init__(
        self,
        *,
        authenticate: Callable[[Credentials], Principal],
        compute: ComputeService,
        images: ImageService,
        identity: IdentityService,
        templates: TemplateService,
        extras: Mapping[str, Any] | None = None,
        host_capacity: Callable[[str], tuple[int, int]] | None = None,
    ) -> None:
        deps = Deps(
            authenticate=authenticate,
            compute=compute,
            images=images,
            identity=identity,
            templates=templates,
            extras=extras if extras is not None else {},
            host_capacity=host_capacity or (lambda name: (0, 0)),
        )
        self.identity = IdentityCalls(deps)
        self.images = ImageCalls(deps)
        self.networks = NetworkCalls(deps)
        self.volumes = VolumeCalls(deps)
        self.vms = VmCalls(deps, self.networks, self.volumes)
        self.system = SystemCalls(deps)
