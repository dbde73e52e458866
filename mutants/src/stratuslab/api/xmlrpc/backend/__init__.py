"""The XML-RPC adapter's view of the services: per-resource ports (`ports`) and the requests
and records they exchange (`records`).  Imports only core and this package."""

from stratuslab.api.xmlrpc.backend.ports import (
    IdentityPort,
    ImagePort,
    NetworkPort,
    SystemPort,
    VmPort,
    VolumePort,
    XmlRpcBackend,
)
from stratuslab.api.xmlrpc.backend.records import (
    AclRecord,
    AddressRange,
    DatastoreRecord,
    DiskRequest,
    HostRecord,
    ImageAllocate,
    NetworkAllocate,
    NetworkRecord,
    NicRequest,
    Reservation,
    TemplateRecord,
    UserTemplate,
    VmQuery,
    VmRequest,
)

__all__ = [
    "AclRecord",
    "AddressRange",
    "DatastoreRecord",
    "DiskRequest",
    "HostRecord",
    "IdentityPort",
    "ImageAllocate",
    "ImagePort",
    "NetworkAllocate",
    "NetworkPort",
    "NetworkRecord",
    "NicRequest",
    "Reservation",
    "SystemPort",
    "TemplateRecord",
    "UserTemplate",
    "VmPort",
    "VmQuery",
    "VmRequest",
    "VolumePort",
    "XmlRpcBackend",
]
