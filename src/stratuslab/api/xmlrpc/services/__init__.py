"""`ServicesBackend`: the XmlRpcBackend over the cloud's services (the same commands REST sends).

One part per port: VMs go through ComputeService (`vms`), images through ImageService
(`images`), users and groups through IdentityService (`identity`), virtual networks and volumes
through the network and storage services (`networks`, `volumes`), hosts,
VM templates, ACLs and datastores through `system`.  Authentication is the server's one chain.
What no service can do yet raises core.errors.Unsupported (the dispatcher answers 0x800).
Translation only: every check is the services'.  Imports core, services and this package; never
drivers, persistence or settings.
"""

from __future__ import annotations

from stratuslab.api.xmlrpc.services.identity import IdentityCalls
from stratuslab.api.xmlrpc.services.images import ImageCalls
from stratuslab.api.xmlrpc.services.networks import NetworkCalls
from stratuslab.api.xmlrpc.services.system import SystemCalls
from stratuslab.api.xmlrpc.services.vms import VmCalls
from stratuslab.api.xmlrpc.services.volumes import VolumeCalls
from stratuslab.services.catalog import CloudServices

__all__ = ["ServicesBackend"]


class ServicesBackend:
    def __init__(self, services: CloudServices) -> None:
        self.identity = IdentityCalls(services)
        self.images = ImageCalls(services)
        self.networks = NetworkCalls(services)
        self.volumes = VolumeCalls(services)
        self.vms = VmCalls(services, self.networks, self.volumes)
        self.system = SystemCalls(services)
