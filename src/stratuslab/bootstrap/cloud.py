"""Composition root: Settings -> engine, drivers, services, apps.

`build_cloud` makes the core (database, identity, images, the node), asks each feature module of
this package for its typed result (network, storage, marketplace, auth: services plus
`FeatureParts`), builds compute, jobs, reconciler and quarantine over the features' VM
extensions and job handlers, gathers every service into one `CloudServices` for the front ends,
and assembles the FastAPI app.  Nothing is looked up by a string key.
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
from stratuslab.api.guard import HttpGuard
from stratuslab.api.requestid import RequestIdMiddleware
from stratuslab.api.rest import create_app
from stratuslab.bootstrap import (
    apis,
    auth,
    cdmi,
    hosts,
    images,
    marketplace,
    monitoring,
    network,
    quotas,
    storage,
)
from stratuslab.bootstrap.nodes import NodeTable, make_node
from stratuslab.bootstrap.wiring import Core, FeatureParts, JobWake, merge
from stratuslab.core.entities import InstanceType
from stratuslab.core.errors import Unavailable
from stratuslab.drivers.storage.tinyimage import TinyImageBuilder
from stratuslab.persistence import db
from stratuslab.persistence.locks import DbLock
from stratuslab.persistence.occimixins import UserMixinRepo
from stratuslab.persistence.templates import VmTemplateRepo
from stratuslab.persistence.uow import SqlUnitOfWorkFactory
from stratuslab.services.agent import AgentReports
from stratuslab.services.catalog import CloudServices
from stratuslab.services.common import SystemClock
from stratuslab.services.compute import ComputeService, InstanceTypes
from stratuslab.services.extensions import VmExtension
from stratuslab.services.identity import Argon2Hasher, IdentityService
from stratuslab.services.imageimport import URL_IMPORT_JOB
from stratuslab.services.images import ImageService
from stratuslab.services.jobs import JobRunner
from stratuslab.services.leadership import Leadership
from stratuslab.services.lifecycle import LifecycleExecutor
from stratuslab.services.occimixins import REPO as OCCI_MIXINS_REPO
from stratuslab.services.occimixins import OcciMixinService
from stratuslab.services.periodic import PeriodicWorker
from stratuslab.services.placement import Placement
from stratuslab.services.quarantine import QuarantineService
from stratuslab.services.reconciler import Reconciler
from stratuslab.services.scheduling import Scheduler
from stratuslab.services.templates import REPO as TEMPLATES_REPO
from stratuslab.services.templates import TemplateService
from stratuslab.settings import Settings, parse_duration

log = logging.getLogger("stratuslab.server")


@dataclass(frozen=True)
class Features:
    """Each feature's typed result (what tests and operators reach for by name)."""

    images: images.ImagesFeature
    network: network.NetworkFeature
    storage: storage.StorageFeature
    marketplace: marketplace.MarketplaceFeature
    auth: auth.AuthFeature
    cdmi: cdmi.CdmiFeature
    monitoring: monitoring.MonitoringFeature
    hosts: hosts.HostsFeature

    def parts(self) -> tuple[FeatureParts, ...]:
        return (self.images.parts, self.network.parts, self.storage.parts,
                self.marketplace.parts, self.auth.parts, self.cdmi.parts,
                self.monitoring.parts, self.hosts.parts)

    def extensions(self) -> tuple[VmExtension, ...]:
        return merge(*self.parts()).extensions


@dataclass
class Cloud:
    settings: Settings
    engine: Engine
    uow: SqlUnitOfWorkFactory
    clock: SystemClock
    services: CloudServices
    features: Features
    runner: JobRunner
    reconciler: Reconciler
    nodes: NodeTable  # this front end's own node and the enrolled hosts' agents
    parts: FeatureParts
    app: FastAPI
    scheduler: Scheduler | None = None  # places pending VMs (tests drive `round` by hand)

    @property
    def identity(self) -> IdentityService:
        return self.services.identity

    @property
    def images(self) -> ImageService:
        return self.services.images

    @property
    def compute(self) -> ComputeService:
        return self.services.compute

    @property
    def quarantine(self) -> QuarantineService:
        return self.services.quarantine

    def reload(self, settings: Settings) -> str:
        """What an operator may change without a restart (SIGHUP, `stratus-server reload`): the
        marketplace's `[policy]` lists and trust store.  Other keys need a restart."""
        summary = self.features.marketplace.reload(settings)
        log.info("configuration reloaded: %s", summary)
        return summary

    def start(self) -> None:
        for node in self.nodes.local.values():  # agents report through /api/v1/agent/report
            node.hypervisor.set_event_sink(self.reconciler.observe)
        for task in self.parts.on_start:
            task()
        for worker in self.parts.workers:
            worker.start()
        self.runner.start()
        self.reconciler.start()
        self.quarantine.start()

    def stop(self) -> None:
        self.quarantine.stop()
        self.reconciler.stop()
        self.runner.stop()
        for node in self.nodes.local.values():
            node.hypervisor.set_event_sink(None)
            close = getattr(node.hypervisor, "close", None)
            if close:
                close()
        self.nodes.close()
        for worker in reversed(self.parts.workers):
            worker.stop()
        for closer in reversed(self.parts.closers):
            closer()
        self.engine.dispose()


def instance_types(settings: Settings) -> InstanceTypes:
    types = {
        name: InstanceType(name, v[0], v[1], v[2] if len(v) > 2 else 0)
        for name, v in settings.instance_types.types.items()
    }
    return InstanceTypes(types, settings.instance_types.default)


def claim_node(engine: Engine, settings: Settings) -> Callable[[], None]:
    """Front ends sharing a database each serve their own node: refuse a second one that would
    serve (and reconcile, and run the jobs of) the same node under the same name.  Returns the
    release of the claim."""
    name = settings.server.node_name
    lock = DbLock(engine, f"node:{name}")
    if not lock.try_acquire():
        raise Unavailable(
            f"node '{name}' is already served by another stratus-server on "
            f"{engine.url.render_as_string(hide_password=True)}",
            hint="give each front end its own [server] node_name "
                 "(or STRATUSLAB_SERVER_NODE_NAME)")
    return lock.release


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
    data = settings.data_dir
    private_dir(data)
    engine = open_database(settings, create_if_empty=create_db)
    uow = SqlUnitOfWorkFactory(engine)
    clock = SystemClock()
    identity = IdentityService(uow, Argon2Hasher(), clock)
    release_node = claim_node(engine, settings)
    leader = Leadership(DbLock(engine, "leader"), who=f"front end {settings.server.node_name}")
    plane = network.prepare(settings)  # the data-plane namespace exists before the node
    node = make_node(settings, plane.netns)
    nodes = NodeTable({node.name: node})  # hosts.wire binds the enrolled hosts' agents
    builder = TinyImageBuilder(settings.images.build_cache or str(data / "build-cache"))
    wake_jobs = JobWake()
    image_feature = images.wire(settings, uow, clock, builder=builder, wake=wake_jobs)
    core = Core(settings, uow, clock, identity, image_feature.service, nodes, plane.netns,
                wake_jobs, leader)
    access = auth.wire(core)
    features = Features(images=image_feature, network=network.wire(core, plane),
                        storage=storage.wire(core), marketplace=marketplace.wire(core),
                        auth=access, cdmi=cdmi.wire(core, access.authenticate),
                        monitoring=monitoring.wire(core, access.authenticate),
                        hosts=hosts.wire(core))
    private_files(data, db.sqlite_path(settings.database_url))  # ours and the features'
    types = instance_types(settings)
    # hosts' states (stored: a disable survives a restart); the executor places through it
    # vCPUs per processor and memory share: the simulated driver's guests use nothing real
    overcommit = (64.0, 64.0) if settings.hypervisor.driver == "simulated" else (16.0, 1.0)
    placement = Placement(nodes, features.hosts.service)
    scheduler = Scheduler(uow, clock, served=nodes, policy=settings.scheduler.policy,
                          overcommit=overcommit, is_leader=leader.is_leader,
                          batch_limit=settings.scheduler.batch_limit)
    executor = LifecycleExecutor(uow, clock, nodes, extensions=features.extensions(),
                                 shutdown_timeout=settings.hypervisor.shutdown_timeout,
                                 place=scheduler.place)
    # adopt the data plane a previous server left: every live VM re-plugged (one function)
    adopt = FeatureParts(on_start=(network.off_loop(executor.replug_live),))
    waiting = PeriodicWorker("scheduler", scheduler.round,  # places VMs left pending (leader)
                             interval=parse_duration(settings.scheduler.interval), jitter=0.5)
    duties = FeatureParts(workers=(leader, waiting), closers=(release_node,))  # cloud-wide
    parts = merge(duties, *features.parts(), adopt)
    runner = JobRunner(uow, clock, parts.job_handlers, default=executor.execute,
                       give_up={URL_IMPORT_JOB: image_feature.service.url_imports.give_up},
                       default_give_up=executor.give_up,
                       workers=settings.server.job_workers, name=settings.server.node_name,
                       stale_after=timedelta(seconds=parse_duration(
                           settings.server.job_stale_after)),
                       hosts=nodes)  # other front ends run the jobs of their nodes' VMs
    wake_jobs.bind(runner.wake)
    uow.register(TEMPLATES_REPO, VmTemplateRepo)
    uow.register(OCCI_MIXINS_REPO, UserMixinRepo)
    compute_quotas = quotas.wire(settings, uow, nodes, placement)
    reconciler = Reconciler(uow, clock, nodes)
    services = CloudServices(
        authenticate=features.auth.authenticate,
        identity=identity,
        images=image_feature.service,
        compute=ComputeService(uow, clock, types, nodes=nodes, wake=runner.wake,
                               extensions=parts.extensions, placement=placement,
                               quotas=compute_quotas),
        compute_quotas=compute_quotas,
        instance_types=types,
        quarantine=QuarantineService(
            nodes, period_s=parse_duration(settings.quarantine.period),
            interval_s=parse_duration(settings.quarantine.purge_interval)),
        templates=TemplateService(uow, clock),
        network=features.network.service,
        vm_nics=features.network.nics,
        volumes=features.storage.volumes,
        vm_volumes=features.storage.vm_volumes,
        volume_retention=features.storage.retention,
        marketplace_images=features.marketplace.images,
        host_capacity=apis.local_capacity,
        cloudstats=features.monitoring.stats,
        hosts=features.hosts.service,
        enrolment=features.hosts.enrolment,
        agents=AgentReports(uow, features.hosts.enrolment, features.hosts.service,
                            reconciler.observe),
        occi_mixins=OcciMixinService(uow),
    )
    cloud = Cloud(settings, engine, uow, clock, services, features, runner,
                  reconciler, nodes, parts,
                  make_app(services, parts, settings), scheduler)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        cloud.start()
        try:
            yield
        finally:
            cloud.stop()

    cloud.app.router.lifespan_context = lifespan
    return cloud


def make_app(services: CloudServices, parts: FeatureParts, settings: Settings) -> FastAPI:
    app = create_app(services, version=__version__)
    for router in (*parts.routers, *apis.routers(services, settings)):
        app.include_router(router)
    for prefix, sub_app in parts.mounts:
        app.mount(prefix, sub_app)
    for middleware in parts.middlewares:
        app.add_middleware(middleware.cls, *middleware.args, **middleware.kwargs)
    app.add_middleware(HttpGuard, **guard_options(settings))  # before any adapter reads
    app.add_middleware(RequestIdMiddleware)  # outermost: every API, every mount
    return app


#: paths whose clients legitimately send "simple" content types (HTML forms, pdisk's form
#: encoding, OCCI's text/plain rendering, CDMI objects of any type); the Origin and
#: Sec-Fetch-Site checks still apply to them
FORM_PATHS = ("/register", "/pdisk", "/occi", "/.well-known/org/ogf/occi", "/cdmi")
CLASSIC = ("", "/pswd", "/cert")  # api/classic serves every path under these prefixes too
UNLIMITED = 2**63 - 1


def guard_options(settings: Settings) -> dict[str, Any]:
    """The HTTP guard's options: one body limit, and the explicit ones of the uploads that
    legitimately take more (marketplace metadata; CDMI objects: the owner's quota and one
    server.max_body more, so that CDMI's own quota answer comes first)."""
    uploads = []
    if settings.marketplace.serve:
        uploads.append(("/marketplace/metadata", settings.marketplace.max_body,
                        "marketplace.max_body"))
    if settings.cdmi.enabled:
        # beyond the owner's whole quota (CDMI refuses over-quota uploads itself, with 403)
        cap = settings.cdmi.quota_bytes + settings.server.max_body
        uploads.append(("/cdmi", cap if settings.cdmi.quota_bytes else UNLIMITED,
                        "cdmi.quota_bytes"))
    return {"max_body": settings.server.max_body,
            "body_limits": [(c + p, n, key) for p, n, key in uploads for c in CLASSIC],
            "trusted_origins": settings.server.trusted_origins,
            "form_paths": tuple(c + p for p in FORM_PATHS for c in CLASSIC),
            "server": f"StratusLab/{__version__}"}


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
