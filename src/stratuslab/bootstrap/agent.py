"""Composition of `stratus-node run`: the host's own drivers (hypervisor and instance storage
from this host's settings, exactly as an all-in-one server makes them), the agent API over
them (mutual TLS: the host certificate serves, front-end certificates of the cloud CA call),
and the reporter that pushes heartbeats and VM states to the front end.

The agent's identity is its certificate: the node is named after the certificate's CN
(whatever `[server] node_name` says).  The files are those `stratus-node enroll` wrote in
`<data dir>/agent`: host.key, host.pem, ca.pem and server (the front end's URL).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID
from fastapi import FastAPI

from stratuslab import __version__
from stratuslab.api.agent import create_agent_app
from stratuslab.bootstrap.nodes import make_node
from stratuslab.core.errors import Unavailable
from stratuslab.core.node import Node
from stratuslab.drivers.monitoring.proc import host_capacity
from stratuslab.drivers.node import FrontEndLink
from stratuslab.drivers.pki import CloudCA
from stratuslab.services.agent import AgentReporter
from stratuslab.settings import Settings

FILES = ("host.key", "host.pem", "ca.pem", "server")


@dataclass(frozen=True)
class Agent:
    node: Node
    reporter: AgentReporter
    app: FastAPI


def agent_dir(settings: Settings) -> Path:
    return settings.data_dir / "agent"


def host_name(cert: Path) -> str:
    leaf = x509.load_pem_x509_certificate(cert.read_bytes())
    return str(leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def build_agent(settings: Settings, endpoint: str, *, server: str | None = None) -> Agent:
    where = agent_dir(settings)
    missing = [f for f in FILES if not (where / f).is_file()]
    if missing:
        raise Unavailable(f"this host is not enrolled ({', '.join(missing)} missing in {where})",
                          hint="on the front end: stratus host add NAME; here: stratus-node "
                               "enroll --server URL --name NAME --token TOKEN")
    name = host_name(where / "host.pem")
    settings = dataclasses.replace(settings, server=dataclasses.replace(settings.server,
                                                                       node_name=name))
    node = make_node(settings)
    link = FrontEndLink(server or (where / "server").read_text().strip(), ca=where / "ca.pem",
                        cert=where / "host.pem", key=where / "host.key")
    reporter = AgentReporter(node, link, host_capacity, version=__version__, endpoint=endpoint)
    app = create_agent_app(node, CloudCA(where), version=__version__,
                           on_call=reporter.worker.wake)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        reporter.start()
        try:
            yield
        finally:
            reporter.stop()
            link.close()
            close = getattr(node.hypervisor, "close", None)
            if close is not None:
                close()  # watchers only: the guests keep running

    app.router.lifespan_context = lifespan
    return Agent(node, reporter, app)
