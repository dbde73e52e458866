"""Wiring of the storage feature into the cloud (a typed result with its FeatureParts, see bootstrap/wiring.py).

- one volume backend per `[storage.pools.<name>]` (none configured: pool "default", simulated
  with the simulated hypervisor, else `file`); an `iscsi` pool without its own `netns` runs tgtd
  inside the all-in-one data-plane namespace (core.netns) when there is one, because QEMU runs
  there and reaches the portal on that namespace's loopback;
- the SQL repositories `uow.repo("volumes")` / `uow.repo("storage_quotas")`;
- VolumeService and VmVolumes for hot-plug (a `StorageFeature`), VolumeExtension (persistent and read-only disks at launch, volatile and root disks recorded);
- at start, export again every attached volume (a restarted server or tgtd loses no
  attachment); a worker purges quarantined volumes after the quarantine retention;
- closers: backends close at shutdown (tgtd keeps serving the running guests, also a tgtd in the
  data-plane namespace: the data plane outlives the server, and the next start adopts tgtd by
  its control socket); `stop_data_plane_targets` (stratus-server remove-data-plane) removes the
  targets and stops the tgtd of the pools inside the data plane.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stratuslab.bootstrap.wiring import Core, FeatureParts
from stratuslab.core.volumes import StorageQuota, VolumeBackendPort
from stratuslab.drivers.storage.volumes import build_backends
from stratuslab.persistence.volumes import SqlStorageQuotaRepo, SqlVolumeRepo
from stratuslab.services.storage.service import VolumeService
from stratuslab.services.storage.uow import STORAGE_QUOTAS_REPO, VOLUMES_REPO
from stratuslab.services.storage.vmattach import VmVolumes
from stratuslab.settings import Settings, parse_duration

log = logging.getLogger("stratuslab.server")


def pool_tables(settings: Settings, netns: str | None) -> dict[str, dict[str, Any]]:
    st = settings.storage
    if st.pools:
        pools = {name: dict(table) for name, table in st.pools.items()}
    else:
        kind = "simulated" if settings.hypervisor.driver == "simulated" else "file"
        pools = {st.default_pool: {"backend": kind}}
    for table in pools.values():
        if table.get("backend") == "iscsi" and netns and not table.get("netns"):
            table["netns"] = netns
    return pools


def stop_data_plane_targets(settings: Settings, netns: str) -> list[str]:
    """Remove the targets and stop the tgtd of every iSCSI pool running inside the data-plane
    namespace `netns` (a server stop leaves them serving); the names of those pools."""
    pools = {name: table for name, table in pool_tables(settings, netns).items()
             if table.get("backend") == "iscsi" and table.get("netns") == netns}  # fmt: skip
    for backend in build_backends(pools, data_dir=str(settings.data_dir)).values():
        backend.stop()
    return sorted(pools)


def _limit(count: int, gb: int) -> StorageQuota:
    return StorageQuota(max_volumes=count or None, max_gb=gb or None)


@dataclass(frozen=True)
class StorageFeature:
    volumes: VolumeService
    vm_volumes: VmVolumes
    retention: Callable[[], datetime]  # volumes quarantined before this instant are purged
    parts: FeatureParts


def wire(core: Core) -> StorageFeature:
    from stratuslab.api.rest import routes_pdisk, routes_volumes
    from stratuslab.services.periodic import PeriodicWorker
    from stratuslab.services.storage.extension import VolumeExtension
    from stratuslab.services.storage.hotplug import VolumeHotplug
    from stratuslab.services.storage.quotas import QuotaAccountant, QuotaDefaults
    from stratuslab.services.storage.recovery import StuckVolumes
    from stratuslab.services.storage.upkeep import VolumePurger, reexport_attached

    settings = core.settings
    st = settings.storage
    pools = pool_tables(settings, core.netns)
    built = build_backends(pools, data_dir=str(settings.data_dir))
    backends: dict[str, VolumeBackendPort] = dict(built)
    core.uow.register(VOLUMES_REPO, SqlVolumeRepo)
    core.uow.register(STORAGE_QUOTAS_REPO, SqlStorageQuotaRepo)
    accountant = QuotaAccountant(QuotaDefaults(
        user=_limit(st.user_max_volumes, st.user_max_gb),
        group=_limit(st.group_max_volumes, st.group_max_gb),
    ))  # fmt: skip
    service = VolumeService(core.uow, backends, clock=core.clock, default_pool=st.default_pool,
                            quotas=accountant)  # fmt: skip
    vm_volumes = VmVolumes(VolumeHotplug(service), core.nodes, volumes=service,
                           vm_state=lambda vm_id: vm_state(core, vm_id))  # fmt: skip
    closers = tuple(backend.close for backend in built.values())
    purger = VolumePurger(service.purge_quarantine, core.clock,
                          retention_s=parse_duration(settings.quarantine.period))
    started = core.clock.now()  # volumes creating/deleting before this were the previous process's
    stuck = StuckVolumes(core.uow, backends, quota_accountant=accountant)
    leader = core.leader

    def purge_if_leader() -> None:  # one front end purges for the whole cloud
        if leader.is_leader():
            purger.run_once()

    worker = PeriodicWorker("volume-purger", purge_if_leader,
                            interval=parse_duration(settings.quarantine.purge_interval))
    log.info("storage: pools %s (default %s)",
             ", ".join(f"{n}={t.get('backend')}" for n, t in pools.items()), st.default_pool)
    parts = FeatureParts(
        extensions=(VolumeExtension(core.uow, backends, clock=core.clock,
                                    quota_accountant=accountant),),
        routers=(routes_volumes.router, routes_pdisk.router),
        on_start=(lambda: stuck.recover(started),
                  lambda: reexport_attached(service.reexport_attached)),
        workers=(worker,),
        closers=closers,
    )
    return StorageFeature(service, vm_volumes, purger.cutoff, parts)


def vm_state(core: Core, vm_id: int) -> str | None:
    with core.uow(readonly=True) as uow:
        vm = uow.vms.get(vm_id)
    return vm.state if vm is not None else None
