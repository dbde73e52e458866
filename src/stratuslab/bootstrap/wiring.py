"""What feature wiring modules receive and extend while the cloud is assembled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stratuslab.core.node import Node
from stratuslab.persistence.uow import SqlUnitOfWorkFactory
from stratuslab.services.common import SystemClock
from stratuslab.services.identity import IdentityService
from stratuslab.services.images import ImageService
from stratuslab.services.leadership import Leadership
from stratuslab.settings import Settings


@dataclass
class Wiring:
    """What feature modules receive and extend while the cloud is assembled."""

    settings: Settings
    uow: SqlUnitOfWorkFactory
    clock: SystemClock
    identity: IdentityService
    images: ImageService | None = None
    nodes: dict[str, Node] = field(default_factory=dict)
    netns: str | None = None  # the data-plane namespace the node's guests live in
    extensions: list[Any] = field(default_factory=list)  # services.extensions.VmExtension
    auth_links: dict[str, Any] = field(default_factory=dict)  # name -> Authenticator
    services: dict[str, Any] = field(default_factory=dict)  # handed to the REST adapter as extras
    mounts: list[tuple[str, Any]] = field(default_factory=list)  # (path prefix, ASGI app)
    routers: list[Any] = field(default_factory=list)  # APIRouters added to the main app
    workers: list[tuple[Any, Any]] = field(default_factory=list)  # (start, stop) callables
    closers: list[Any] = field(default_factory=list)
    job_handlers: dict[str, Any] = field(default_factory=dict)  # job kind -> handler(Job)
    middlewares: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)  # (class, kwargs)
    authenticate: Any = None  # set once the chain is built
    leader: Leadership | None = None  # the front end that does cloud-wide duties
