"""The typed pieces the composition root passes between feature wiring modules.

`Core` is what every feature receives (built once, before the features); each feature module
returns its own frozen result (`NetworkFeature`, `StorageFeature`, ...) holding the services it
made plus a `FeatureParts`: what it adds to the server (VM extensions, routes, mounts,
middlewares, job handlers, start-up tasks, background workers, closers).  `cloud.build_cloud`
collects the parts; no feature reads or edits another's wiring, and nothing is looked up by a
string key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from fastapi import APIRouter
from starlette.middleware import Middleware
from starlette.types import ASGIApp

from stratuslab.bootstrap.nodes import NodeTable
from stratuslab.core.entities import Job
from stratuslab.core.network import NetworkDriverPort
from stratuslab.persistence.uow import SqlUnitOfWorkFactory
from stratuslab.services.common import SystemClock
from stratuslab.services.extensions import VmExtension
from stratuslab.services.identity import IdentityService
from stratuslab.services.images import ImageService
from stratuslab.services.leadership import Leadership
from stratuslab.settings import Settings


@dataclass(frozen=True)
class DataPlane:
    """The node's network driver and the namespace its guests live in (None: the host's)."""

    driver: NetworkDriverPort
    netns: str | None
    closers: tuple[Callable[[], None], ...] = ()


class DataPlaneFactory(Protocol):
    """What a `stratuslab.network_drivers` entry point names (bootstrap/network.py has the
    built-in ones); called once, before the node's hypervisor is built."""

    def __call__(self, settings: Settings) -> DataPlane: ...


class Worker(Protocol):
    """Something that runs in the background while the server runs (a PeriodicWorker)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


class JobWake:
    """Wakes the job runner, which is built after the features that queue jobs."""

    def __init__(self) -> None:
        self._wake: Callable[[], None] | None = None

    def bind(self, wake: Callable[[], None]) -> None:
        self._wake = wake

    def __call__(self) -> None:
        if self._wake is not None:
            self._wake()


@dataclass(frozen=True)
class Core:
    """What every feature receives."""

    settings: Settings
    uow: SqlUnitOfWorkFactory
    clock: SystemClock
    identity: IdentityService
    images: ImageService
    nodes: NodeTable  # the own node (`local`) and the enrolled hosts' agents
    netns: str | None  # the data-plane namespace the node's guests live in (bridge networking)
    wake_jobs: JobWake
    leader: Leadership  # the front end that does cloud-wide duties


@dataclass(frozen=True)
class FeatureParts:
    """What one feature adds to the server."""

    extensions: tuple[VmExtension, ...] = ()
    routers: tuple[APIRouter, ...] = ()
    mounts: tuple[tuple[str, ASGIApp], ...] = ()  # (path prefix, ASGI app)
    middlewares: tuple[Middleware, ...] = ()
    job_handlers: Mapping[str, Callable[[Job], None]] = field(default_factory=dict)
    on_start: tuple[Callable[[], object], ...] = ()  # one-shot tasks when the server starts
    workers: tuple[Worker, ...] = ()  # started after on_start, stopped in reverse
    closers: tuple[Callable[[], None], ...] = ()  # at shutdown, in reverse order


def merge(*parts: FeatureParts) -> FeatureParts:
    """The parts of several features together, in the order given."""
    handlers: dict[str, Callable[[Job], None]] = {}
    for p in parts:
        handlers.update(p.job_handlers)
    return FeatureParts(
        extensions=tuple(e for p in parts for e in p.extensions),
        routers=tuple(r for p in parts for r in p.routers),
        mounts=tuple(m for p in parts for m in p.mounts),
        middlewares=tuple(m for p in parts for m in p.middlewares),
        job_handlers=handlers,
        on_start=tuple(s for p in parts for s in p.on_start),
        workers=tuple(w for p in parts for w in p.workers),
        closers=tuple(c for p in parts for c in p.closers),
    )

