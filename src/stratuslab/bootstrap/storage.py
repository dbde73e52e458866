"""Wiring of the storage feature into the cloud (see bootstrap.cloud.Wiring).

- one volume backend per `[storage.pools.<name>]` (none configured: pool "default", simulated
  with the simulated hypervisor, else `file`); an `iscsi` pool without its own `netns` runs tgtd
  inside the all-in-one data-plane namespace (w.netns) when there is one, because QEMU runs
  there and reaches the portal on that namespace's loopback;
- the SQL repositories `uow.repo("volumes")` / `uow.repo("storage_quotas")`;
- VolumeService (w.services["volumes"]), VmVolumes for hot-plug (w.services["vm_volumes"]),
  VolumeExtension (persistent and read-only disks at launch, volatile and root disks recorded);
- workers: export again every attached volume at start (a restarted server or tgtd loses no
  attachment), purge quarantined root volumes after the quarantine retention;
- closers: backends close at shutdown (tgtd keeps serving the running guests), except a tgtd in
  the data-plane namespace, which goes away with it.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from stratuslab.bootstrap.wiring import Wiring
from stratuslab.core.volumes import StorageQuota, VolumeBackendPort
from stratuslab.drivers.storage.volumes import build_backends
from stratuslab.persistence.volumes import SqlStorageQuotaRepo, SqlVolumeRepo
from stratuslab.services.storage.uow import STORAGE_QUOTAS_REPO, VOLUMES_REPO
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


def _limit(count: int, gb: int) -> StorageQuota:
    return StorageQuota(max_volumes=count or None, max_gb=gb or None)


def wire(w: Wiring) -> None:
    from stratuslab.api.rest import routes_pdisk, routes_volumes
    from stratuslab.services.periodic import PeriodicWorker
    from stratuslab.services.storage.extension import VolumeExtension
    from stratuslab.services.storage.hotplug import VolumeHotplug
    from stratuslab.services.storage.quotas import QuotaAccountant, QuotaDefaults
    from stratuslab.services.storage.recovery import StuckVolumes
    from stratuslab.services.storage.service import VolumeService
    from stratuslab.services.storage.upkeep import VolumePurger, reexport_attached
    from stratuslab.services.storage.vmattach import VmVolumes

    st = w.settings.storage
    pools = pool_tables(w.settings, w.netns)
    built = build_backends(pools, data_dir=str(w.settings.data_dir))
    backends = cast(dict[str, VolumeBackendPort], built)  # ClassVar name vs the port's attribute
    w.uow.register(VOLUMES_REPO, SqlVolumeRepo)
    w.uow.register(STORAGE_QUOTAS_REPO, SqlStorageQuotaRepo)
    accountant = QuotaAccountant(QuotaDefaults(
        user=_limit(st.user_max_volumes, st.user_max_gb),
        group=_limit(st.group_max_volumes, st.group_max_gb),
    ))  # fmt: skip
    service = VolumeService(w.uow, backends, clock=w.clock, default_pool=st.default_pool,
                            quotas=accountant)  # fmt: skip
    w.extensions.append(VolumeExtension(w.uow, backends, clock=w.clock, quota_accountant=accountant))
    w.services["volumes"] = service
    w.services["vm_volumes"] = VmVolumes(VolumeHotplug(service), w.nodes, volumes=service,
                                         vm_state=lambda vm_id: vm_state(w, vm_id))  # fmt: skip
    w.routers += [routes_volumes.router, routes_pdisk.router]
    for name, backend in built.items():
        inside_netns = pools[name].get("backend") == "iscsi" and pools[name].get("netns") == w.netns
        w.closers.append(backend.stop if w.netns and inside_netns else backend.close)
    started = w.clock.now()  # volumes creating/deleting before this were the previous process's
    stuck = StuckVolumes(w.uow, backends, quota_accountant=accountant)
    w.workers.append((lambda: stuck.recover(started), lambda: None))
    w.workers.append((lambda: reexport_attached(service.reexport_attached), lambda: None))
    purger = VolumePurger(service.purge_quarantine, w.clock,
                          retention_s=parse_duration(w.settings.quarantine.period))
    leader = w.leader

    def purge_if_leader() -> None:  # one front end purges for the whole cloud
        if leader is None or leader.is_leader():
            purger.run_once()

    worker = PeriodicWorker("volume-purger", purge_if_leader,
                            interval=parse_duration(w.settings.quarantine.purge_interval))
    w.workers.append((worker.start, worker.stop))
    w.services["volume_retention"] = purger.cutoff
    log.info("storage: pools %s (default %s)",
             ", ".join(f"{n}={t.get('backend')}" for n, t in pools.items()), st.default_pool)


def vm_state(w: Wiring, vm_id: int) -> str | None:
    with w.uow(readonly=True) as uow:
        vm = uow.vms.get(vm_id)
    return vm.state if vm is not None else None
