"""Wiring of the other API adapters (XML-RPC, OCCI) onto the main application.

XML-RPC (OpenNebula-compatible) at /RPC2 and /xmlrpc, the classic StratusLab paths
/pswd/xmlrpc and /cert/xmlrpc, and /one/3.2/RPC2, /one/7.4/RPC2 (each path claims one OpenNebula
line: xmlrpc.endpoint_versions); OCCI 1.2 under /occi/ with the query interface at /occi/-/ and
/.well-known/org/ogf/occi/-/.  Both adapters get backends over the same services as REST and the
server's one authenticator chain; VM templates (one.template.*) live in the vm_templates table.
"""

from __future__ import annotations

import os
from typing import Any

from stratuslab.api import occi, xmlrpc
from stratuslab.api.occi.services import ServicesBackend as OcciServices
from stratuslab.api.xmlrpc.services import ServicesBackend as XmlRpcServices
from stratuslab.bootstrap.wiring import Wiring
from stratuslab.persistence.templates import VmTemplateRepo
from stratuslab.services.templates import REPO as TEMPLATES_REPO
from stratuslab.services.templates import TemplateService


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


def wire(w: Wiring, app: Any) -> None:
    compute = w.services["compute"]
    assert w.images is not None and w.authenticate is not None
    w.uow.register(TEMPLATES_REPO, VmTemplateRepo)
    templates = TemplateService(w.uow, w.clock)
    w.services["templates"] = templates
    one = XmlRpcServices(
        authenticate=w.authenticate,
        compute=compute,
        images=w.images,
        identity=w.identity,
        templates=templates,
        extras=w.services,
        host_capacity=local_capacity,
    )
    app.include_router(
        xmlrpc.create_router(one, paths=xmlrpc.endpoint_versions(w.settings.xmlrpc.one_version))
    )
    backend = OcciServices(
        authenticate=w.authenticate, compute=compute, images=w.images, extras=w.services,
        default_image=w.settings.occi.default_image or None,
    )
    app.include_router(occi.create_router(backend, prefix="/occi", root_well_known=True))
