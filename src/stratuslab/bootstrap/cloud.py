"""Composition root: Settings -> engine, drivers, services, apps.

`build_cloud` makes the core (database, identity, images, compute, jobs, reconciler, quarantine)
and lets each feature module of this package (network, storage, marketplace, auth, apis) add
its drivers, repositories, VM extensions, authenticators, routes and background workers through
one `Wiring` object, so features do not edit each other's wiring.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

from stratuslab import __version__
from stratuslab.api.requestid import RequestIdMiddleware
from stratuslab.api.rest import RestContext, create_app
from stratuslab.bootstrap.wiring import Wiring
from stratuslab.core.auth import Authenticator, Credentials
from stratuslab.core.entities import InstanceType, Principal
from stratuslab.core.errors import AuthenticationFailed, Unavailable
from stratuslab.core.node import Node
from stratuslab.drivers.hypervisor import load as load_hypervisor
from stratuslab.drivers.storage.instance import FileInstanceStorage
from stratuslab.drivers.storage.simulated import SimulatedInstanceStorage
from stratuslab.drivers.storage.tinyimage import TinyImageBuilder
from stratuslab.persistence import db
from stratuslab.persistence.locks import DbLock
from stratuslab.persistence.uow import SqlUnitOfWorkFactory
from stratuslab.services.common import SystemClock
from stratuslab.services.compute import ComputeService, InstanceTypes
from stratuslab.services.identity import (
    Argon2Hasher,
    IdentityService,
    PasswordDbAuthenticator,
    TokenAuthenticator,
)
from stratuslab.services.imageimport import URL_IMPORT_JOB
from stratuslab.services.images import ImageService
from stratuslab.services.jobs import JobRunner
from stratuslab.services.leadership import Leadership
from stratuslab.services.lifecycle import LifecycleExecutor
from stratuslab.services.placement import Placement
from stratuslab.services.quarantine import QuarantineService
from stratuslab.services.reconciler import Reconciler
from stratuslab.settings import Settings, parse_duration

log = logging.getLogger("stratuslab.server")


@dataclass
class Cloud:
    settings: Settings
    engine: Engine
    identity: IdentityService
    images: ImageService
    compute: ComputeService
    runner: JobRunner
    reconciler: Reconciler
    quarantine: QuarantineService
    nodes: dict[str, Node]
    app: FastAPI
    wiring: Wiring

    def start(self) -> None:
        for node in self.nodes.values():
            node.hypervisor.set_event_sink(self.reconciler.observe)
        for start, _stop in self.wiring.workers:
            start()
        self.runner.start()
        self.reconciler.start()
        self.quarantine.start()

    def stop(self) -> None:
        self.quarantine.stop()
        self.reconciler.stop()
        self.runner.stop()
        for node in self.nodes.values():
            node.hypervisor.set_event_sink(None)
            close = getattr(node.hypervisor, "close", None)
            if close:
                close()
        for _start, stop in reversed(self.wiring.workers):
            stop()
        for closer in reversed(self.wiring.closers):
            closer()
        self.engine.dispose()


def instance_types(settings: Settings) -> InstanceTypes:
    types = {
        name: InstanceType(name, v[0], v[1], v[2] if len(v) > 2 else 0)
        for name, v in settings.instance_types.types.items()
    }
    return InstanceTypes(types, settings.instance_types.default)


def make_node(settings: Settings, netns: str | None = None) -> Node:
    data = settings.data_dir
    hv = settings.hypervisor
    cls = load_hypervisor(hv.driver)
    name = settings.server.node_name
    if hv.driver == "simulated":
        fail = {a.strip(): f"simulated {a.strip()} failure (setting hypervisor.simulated_fail)"
                for a in hv.simulated_fail.split(",") if a.strip()}
        hypervisor = cls(data / "simulated", host=name, boot_delay=hv.simulated_boot_delay,  # type: ignore[call-arg]
                         fail=fail)
        storage: Any = SimulatedInstanceStorage(data / "instances", data / "quarantine")
    elif hv.driver == "libvirt":
        lv = settings.libvirt
        hypervisor = cls(data / "run", host=name, uri=lv.uri, machine=lv.machine,  # type: ignore[call-arg]
                         netns=netns, domain_prefix=lv.domain_prefix,
                         domain_type=lv.domain_type)
        storage = FileInstanceStorage(str(data / "instances"), str(data / "quarantine"))
    else:
        q = settings.qemu
        hypervisor = cls(data / "run", host=name, accel=q.accel, machine=q.machine,  # type: ignore[call-arg]
                         qemu_binary=q.binary, netns=netns,
                         console_max_bytes=q.console_log_max_bytes)
        storage = FileInstanceStorage(str(data / "instances"), str(data / "quarantine"))
    return Node(name, hypervisor, storage)


def claim_node(engine: Engine, settings: Settings, w: Wiring) -> None:
    """Front ends sharing a database each serve their own node: refuse a second one that would
    serve (and reconcile, and run the jobs of) the same node under the same name."""
    name = settings.server.node_name
    lock = DbLock(engine, f"node:{name}")
    if not lock.try_acquire():
        raise Unavailable(
            f"node '{name}' is already served by another stratus-server on "
            f"{engine.url.render_as_string(hide_password=True)}",
            hint="give each front end its own [server] node_name "
                 "(or STRATUSLAB_SERVER_NODE_NAME)")
    w.closers.append(lock.release)


def open_database(settings: Settings, *, create_if_empty: bool) -> Engine:
    where = (f"--data-dir {settings.data_dir}" if not settings.server.database_url
             else "--config <the settings file that names this database>")
    if not create_if_empty and not db.exists(settings.database_url):
        raise Unavailable(f"there is no database at {db.sqlite_path(settings.database_url)}",
                          hint=f"check --data-dir/--config, or create one: stratus-server db "
                          f"upgrade --create {where} (or start with --all-in-one)")
    engine = db.make_engine(settings.database_url)
    if create_if_empty and db.current_revision(engine) is None:
        log.info("new database: creating the schema")
        db.upgrade(engine)
    db.require_current_schema(engine, hint=f"run: stratus-server db upgrade {where}")
    return engine


def build_cloud(settings: Settings, *, create_db: bool = True) -> Cloud:
    from stratuslab.bootstrap import (
        apis,
        auth,
        cdmi,
        images,
        marketplace,
        monitoring,
        network,
        storage,
    )

    data = settings.data_dir
    private_dir(data)
    engine = open_database(settings, create_if_empty=create_db)
    uow = SqlUnitOfWorkFactory(engine)
    clock = SystemClock()
    identity = IdentityService(uow, Argon2Hasher(), clock)
    w = Wiring(settings, uow, clock, identity)
    claim_node(engine, settings, w)
    w.leader = Leadership(DbLock(engine, "leader"), who=f"front end {settings.server.node_name}")
    w.workers.append((w.leader.start, w.leader.stop))
    network.prepare(w)  # decides the data-plane namespace before the node exists
    node = make_node(settings, w.netns)
    w.nodes[node.name] = node
    builder = TinyImageBuilder(settings.images.build_cache or str(data / "build-cache"))
    w.images = images.wire(w, builder)
    w.auth_links = {"token": TokenAuthenticator(identity), "password": PasswordDbAuthenticator(identity)}
    for feature in (network, storage, marketplace, auth, cdmi, monitoring):
        feature.wire(w)
    private_files(data, db.sqlite_path(settings.database_url))  # ours and the features'
    types = instance_types(settings)
    placement = Placement(w.nodes)  # hosts' enabled flags; the executor places through it
    executor = LifecycleExecutor(uow, clock, w.nodes, extensions=w.extensions,
                                 shutdown_timeout=settings.hypervisor.shutdown_timeout,
                                 place=placement.choose)
    # adopt the data plane a previous server left: every live VM re-plugged (one function)
    w.workers.append((network.off_loop(executor.replug_live), lambda: None))
    runner = JobRunner(uow, clock, w.job_handlers, default=executor.execute,
                       give_up={URL_IMPORT_JOB: w.images.url_imports.give_up},
                       default_give_up=executor.give_up,
                       workers=settings.server.job_workers, name=settings.server.node_name,
                       stale_after=timedelta(seconds=parse_duration(
                           settings.server.job_stale_after)),
                       hosts=set(w.nodes))  # other front ends run the jobs of their nodes' VMs
    compute = ComputeService(uow, clock, types, nodes=w.nodes, wake=runner.wake,
                             extensions=w.extensions, placement=placement)
    reconciler = Reconciler(uow, clock, w.nodes)
    quarantine = QuarantineService(
        w.nodes, period_s=parse_duration(settings.quarantine.period),
        interval_s=parse_duration(settings.quarantine.purge_interval),
    )
    if w.authenticate is None:
        w.authenticate = simple_chain(list(w.auth_links.values()))
    w.services.update(compute=compute, runner=runner)
    ctx = RestContext(compute=compute, images=w.images, identity=identity,
                      authenticate=w.authenticate, instance_types=types, quarantine=quarantine,
                      extras=w.services, version=__version__)
    app = create_app(ctx)
    for router in w.routers:
        app.include_router(router)
    apis.wire(w, app)
    for prefix, sub_app in w.mounts:
        app.mount(prefix, sub_app)
    for middleware, options in w.middlewares:
        app.add_middleware(middleware, **options)
    app.add_middleware(RequestIdMiddleware)  # outermost: every API, every mount
    cloud = Cloud(settings, engine, identity, w.images, compute, runner, reconciler, quarantine,
                  w.nodes, app, w)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        cloud.start()
        try:
            yield
        finally:
            cloud.stop()

    app.router.lifespan_context = lifespan
    return cloud


def simple_chain(links: list[Authenticator]) -> Callable[[Credentials], Principal]:
    def authenticate(creds: Credentials) -> Principal:
        for link in links:
            principal = link.authenticate(creds)
            if principal is not None:
                return principal
        raise AuthenticationFailed("no credentials given",
                                   hint="pass -u USER -p PASSWORD, or a bearer token")

    return authenticate


def private_dir(path: Path) -> None:
    """Make `path` (the data directory: database, secrets, guests' disks) the server user's
    alone: 0700, also when it existed with looser modes."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777
    if mode != 0o700:
        log.warning("data directory %s had mode %o; set to 0700", path, mode)
        path.chmod(0o700)


def private_files(data: Path, database: Path | None) -> None:
    """The SQLite databases (ours and those beside it) and their -wal/-shm files: 0600 (SQLite
    gives files it creates later the database's mode)."""
    found = [*data.glob("*.db"), *data.glob("*.db-*"), *([database] if database else [])]
    if database:
        found += database.parent.glob(database.name + "-*")
    for path in set(found):
        if path.is_file() and path.stat().st_mode & 0o077:
            path.chmod(0o600)


def write_secret(path: Path, text: str) -> None:
    """Create (or replace) a file only its owner can read, never readable by others even for
    an instant."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


def admin_password_file(settings: Settings) -> Path:
    return settings.data_dir / "admin-password"
