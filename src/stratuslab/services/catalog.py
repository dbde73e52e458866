"""`CloudServices`: the cloud's services, typed, as every front end receives them.

Built once by the composition root (bootstrap) and handed to the REST, XML-RPC and OCCI
adapters, so a handler names the service it uses (`services.network`), never a string key.
Every service here is always present: a server without, say, networking does not exist.
Imports services only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from stratuslab.core.auth import Credentials
from stratuslab.core.entities import Principal
from stratuslab.services.agent import AgentReports
from stratuslab.services.cloudstats import CloudStats
from stratuslab.services.compute import ComputeService, InstanceTypes
from stratuslab.services.enrolment import EnrolmentService
from stratuslab.services.hosts import HostService
from stratuslab.services.identity import IdentityService
from stratuslab.services.images import ImageService
from stratuslab.services.marketplace.cloud import MarketplaceImages
from stratuslab.services.network.nics import VmNics
from stratuslab.services.network.service import NetworkService
from stratuslab.services.occimixins import OcciMixinService
from stratuslab.services.quarantine import QuarantineService
from stratuslab.services.quotas import ComputeQuotas
from stratuslab.services.storage.service import VolumeService
from stratuslab.services.storage.vmattach import VmVolumes
from stratuslab.services.templates import TemplateService

Authenticate = Callable[[Credentials], Principal]


@dataclass(frozen=True, slots=True)
class CloudServices:
    authenticate: Authenticate  # the server's one authenticator chain
    identity: IdentityService
    images: ImageService
    compute: ComputeService
    compute_quotas: ComputeQuotas  # compute quotas and capacity (stratus quota)
    instance_types: InstanceTypes
    quarantine: QuarantineService  # finished VMs' instance directories
    templates: TemplateService  # VM templates (one.template.*)
    network: NetworkService
    vm_nics: VmNics  # NIC hot-plug
    volumes: VolumeService
    vm_volumes: VmVolumes  # volume hot-plug
    volume_retention: Callable[[], datetime]  # volumes quarantined before this are purged
    marketplace_images: MarketplaceImages  # import and launch checks of marketplace images
    #: node name -> (CPU in OpenNebula percent, 100 per core; memory KiB); (0, 0): unknown
    host_capacity: Callable[[str], tuple[int, int]]
    cloudstats: CloudStats  # the cloud's load (capacity, allocation, VMs per state)
    hosts: HostService  # the compute nodes as data (state, capacity, heartbeat)
    enrolment: EnrolmentService  # host tokens, certificates and their revocation
    agents: AgentReports  # what enrolled hosts' agents report (heartbeat, VM states)
    occi_mixins: OcciMixinService  # users' own OCCI mixins (tags)
