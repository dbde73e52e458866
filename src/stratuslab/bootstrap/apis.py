"""The other API adapters (XML-RPC, OCCI) over the same services as REST.

XML-RPC (OpenNebula-compatible) at /RPC2 and /xmlrpc, the classic StratusLab paths
/pswd/xmlrpc and /cert/xmlrpc, and /one/3.2/RPC2, /one/7.4/RPC2 (each path claims one OpenNebula
line: xmlrpc.endpoint_versions); OCCI 1.2 under /occi/ with the query interface at /occi/-/ and
/.well-known/org/ogf/occi/-/.  Both adapters get backends over the one `CloudServices` (and so
the server's one authenticator chain); VM templates (one.template.*) live in the vm_templates
table.
"""

from __future__ import annotations

import os

from fastapi import APIRouter

from stratuslab.api import occi, xmlrpc
from stratuslab.api.occi.services import ServicesBackend as OcciServices
from stratuslab.api.xmlrpc.services import ServicesBackend as XmlRpcServices
from stratuslab.services.catalog import CloudServices
from stratuslab.settings import Settings


def local_capacity(name: str) -> tuple[int, int]:
    """The nodes built in this process run on this machine: its CPUs (OpenNebula counts 100
    per core) and memory (KiB, /proc/meminfo MemTotal) are the hosts' TOTAL/MAX CPU and MEM."""
    mem_kib = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem_kib = int(line.split()[1])
                    break
    except (OSError, ValueError, IndexError):
        mem_kib = 0
    return 100 * (os.cpu_count() or 0), mem_kib


def routers(services: CloudServices, settings: Settings) -> tuple[APIRouter, ...]:
    one = XmlRpcServices(services)
    return (
        xmlrpc.create_router(one, paths=xmlrpc.endpoint_versions(settings.xmlrpc.one_version)),
        occi.create_router(
            OcciServices(services, default_image=settings.occi.default_image or None),
            prefix="/occi", root_well_known=True),
    )
