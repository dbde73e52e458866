"""VmNics: hot-plug of a NIC into a caller's running VM and its removal (`one.vm.attachnic`,
`one.vm.detachnic`, REST /api/v1/vms/{id}/nics).

Attach: the lease is taken in one transaction (with its event), then the network driver plugs
the NIC on the VM's node and the node's hypervisor hot-plugs it; any failure unplugs what was
made and releases the lease.  The NIC then joins vm.spec ("networks", "nics" and
"prepared.nics") at the next position, so a restart or resume brings it back and the network
extension's epilog unplugs it and releases its lease with the others.  Detach is the reverse
and releases the lease exactly once (in the transaction that takes the NIC off the spec).
Only the VM's last NIC can be detached, and never its only one: positions are the NICs' ids
on the node and in the guest.

Over REST both run as jobs (`queue_attach`/`queue_detach` check at once what can be checked —
the caller's rights, the VM running, the network's USE right, which NIC — and queue a
`nic-attach`/`nic-detach` job on the VM; the job's handler does the work and records the NIC's
facts in the job's `result`).  XML-RPC and OCCI call attach/detach directly.

Both take the VM by id (or a VM read earlier, re-read here) and decide themselves who may act:
the VM's owner or an admin; anyone else gets the answer of a missing VM.  A new NIC's lease
counts against the quota of the VM's OWNER, whoever attaches it (an admin attaching a NIC to a
user's VM does not lift the user's limit).  Imports core and services only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from stratuslab.core.entities import Job, Principal, Vm
from stratuslab.core.errors import CloudError, InvalidInput, InvalidState, NotFound
from stratuslab.core.hypervisor import NicSpec, VmHandle
from stratuslab.core.network import Lease, NetworkDriverPort
from stratuslab.core.node import Node
from stratuslab.core.ports import Clock, UnitOfWork, UnitOfWorkFactory
from stratuslab.services.common import record
from stratuslab.services.network.definitions import get_network
from stratuslab.services.network.extension import MAX_NICS, NetworkExtension, nic_facts
from stratuslab.services.network.ipam import Ipam, lease_message
from stratuslab.services.network.service import repo_of
from stratuslab.services.network.tenancy import require
from stratuslab.services.policy import PRIVATE, authorize

PLUGGABLE = ("running",)
LISTING = "stratus describe-instance"
NIC_ATTACH_JOB = "nic-attach"
NIC_DETACH_JOB = "nic-detach"


class VmNics:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        extension: NetworkExtension,
        nodes: Mapping[str, Node],
        *,
        ipam: Ipam | None = None,
        quota: Callable[[Principal], int | None] = lambda p: None,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.uow = uow
        self.wake = wake  # the job runner, when a job was queued
        self.clock = clock
        self.extension = extension  # its network drivers and firewall rules
        self.nodes = nodes
        self.ipam = ipam or extension.ipam
        self.quota = quota

    def _authorized(self, principal: Principal, vm: Vm | int) -> tuple[Vm, Principal]:
        """The VM as stored now, if `principal` may change it, and its owner as a principal."""
        vm_id = vm if isinstance(vm, int) else vm.id or 0
        with self.uow(readonly=True) as uow:
            found = uow.vms.get(vm_id)
            user = uow.users.by_name(found.owner) if found is not None else None
        if found is None:
            raise NotFound("VM", vm_id, LISTING)
        authorize(principal, "action", found.owner, found.group, PRIVATE, what="VM",
                  ident=vm_id, listing=LISTING, lock=found.lock)  # fmt: skip
        owner = Principal(found.owner, user.id or 0 if user else 0,
                          tuple(user.groups) if user else (found.group,),
                          frozenset(user.roles) if user else frozenset(), method="owner")
        return found, owner

    def _target(self, vm: Vm, action: str) -> tuple[Node, NetworkDriverPort, VmHandle]:
        handle = vm.spec.handle
        driver = self.extension.drivers.get(vm.host or "")
        if vm.state not in PLUGGABLE or not handle or vm.host not in self.nodes or not driver:
            raise InvalidState(
                what="VM", name=f"{vm.id} ({vm.name})", state=vm.state, action=action,
                allowed=", ".join(PLUGGABLE), hint=f"start it first (VM {vm.id} is {vm.state})",
            )  # fmt: skip
        node = self.nodes[vm.host or ""]
        return node, driver, VmHandle(vm.id or 0, handle["host"], handle.get("data", {}))

    # --- attach ----------------------------------------------------------------------------

    def attach(self, principal: Principal, vm: Vm | int, network_name: str,
               ip: str | None = None) -> dict[str, str]:  # fmt: skip
        """Plug a new NIC on `network_name` into the running VM; return its facts (mac, ip...)."""
        vm, owner = self._authorized(principal, vm)
        node, driver, handle = self._target(vm, "attach a NIC")
        assert vm.id is not None
        index = self._free_index(vm)
        with self.uow() as uow:
            repo = repo_of(uow)
            network = get_network(repo, network_name)
            require(principal, network, "use")
            lease = self.ipam.acquire(repo, network.name, vm_id=vm.id, owner=vm.owner,
                                      nic_index=index, ip=ip or None,
                                      quota=self.quota(owner))  # fmt: skip
            self._lease_event(uow, vm.id, principal.user, lease, acquired=True)
            rules = self.extension.rules(uow, repo, vm, index)
            uow.commit()
        plugged: NicSpec | None = None
        try:
            plugged = driver.plug_nic(vm.id, index, network, lease, rules)
            nic = plugged
            if not driver.capabilities.real_data_plane:
                nic = dataclasses.replace(nic, tap=None, netns=None)
            device = node.hypervisor.attach_nic(handle, nic)
            return self._keep(principal, vm.id, network.name, index, nic, device)
        except CloudError:
            self._undo(principal, vm.id, index, network, lease, driver, plugged is not None)
            raise

    @staticmethod
    def _free_index(vm: Vm) -> int:
        index = len(vm.spec.networks)
        if index >= MAX_NICS:
            raise InvalidInput(f"VM {vm.id} has {index} NICs; a VM has at most {MAX_NICS}",
                               hint=f"detach one first: stratus nic detach {vm.id} {index - 1}")
        return index

    def _keep(self, principal: Principal, vm_id: int, network: str, index: int, nic: NicSpec,
              device: str) -> dict[str, str]:  # fmt: skip
        with self.uow() as uow:
            vm = uow.vms.get(vm_id)
            net = get_network(repo_of(uow), network)
            lease = next(le for le in repo_of(uow).leases_for_vm(vm_id) if le.nic_index == index)
            if vm is None or vm.state not in PLUGGABLE:
                raise InvalidState(what="VM", name=str(vm_id), state=vm.state if vm else "gone",
                                   action="attach a NIC", allowed=", ".join(PLUGGABLE))  # fmt: skip
            facts = nic_facts(net, lease)
            prepared = dict(vm.spec.prepared or {})
            prepared["nics"] = [*prepared.get("nics", []), dataclasses.asdict(nic)]
            vm.spec = vm.spec.with_(
                networks=[*vm.spec.networks, facts], prepared=prepared,
                nics=[*vm.spec.nics, {"network": net.name, "secgroups": []}])
            uow.vms.update(vm)
            record(uow, vm_id, self.clock.now(), "nic", principal.user,
                   f"attached NIC {index} ({device}, MAC={lease.mac}) on network {net.name}",
                   ip=lease.ip, mac=lease.mac)  # fmt: skip
            uow.commit()
        return {**facts, "nic_id": str(index), "device": device}

    def _undo(self, principal: Principal, vm_id: int, index: int, network: Any, lease: Lease,
              driver: NetworkDriverPort, plugged: bool) -> None:  # fmt: skip
        """Take back a failed attach: the guest's device, the node's NIC, the lease."""
        node = self.nodes.get(self._host(vm_id) or "")
        if node is not None and plugged:
            try:
                vm = self._load(vm_id)
                h = vm.spec.handle or {}
                node.hypervisor.detach_nic(VmHandle(vm_id, h.get("host", ""), h.get("data", {})),
                                           lease.mac)  # fmt: skip
            except CloudError:
                pass
        if plugged:
            try:
                driver.unplug_nic(vm_id, index, network, lease)
            except CloudError:
                pass
        self._release(principal, vm_id, index)

    # --- detach ----------------------------------------------------------------------------

    def detach(self, principal: Principal, vm: Vm | int, nic: str) -> dict[str, str]:
        """Unplug the VM's NIC given by MAC or position and release its lease; return its facts."""
        vm, _owner = self._authorized(principal, vm)
        node, driver, handle = self._target(vm, "detach a NIC")
        assert vm.id is not None
        facts = list(vm.spec.networks)
        index = self._index(vm, facts, nic)
        f = facts[index]
        node.hypervisor.detach_nic(handle, f["mac"])
        with self.uow(readonly=True) as uow:
            network = get_network(repo_of(uow), f["network"])
        v6 = f.get("ipv6", "").split("/")[0] or None
        driver.unplug_nic(vm.id, index, network, Lease(network.name, f["ip"], f["mac"], v6))
        with self.uow() as uow:
            current = uow.vms.get(vm.id)
            if current is not None and len(current.spec.networks) == index + 1:
                prepared = dict(current.spec.prepared or {})
                prepared["nics"] = list(prepared.get("nics", []))[:index]
                current.spec = current.spec.with_(
                    networks=current.spec.networks[:index], nics=current.spec.nics[:index],
                    prepared=prepared)
                uow.vms.update(current)
                record(uow, vm.id, self.clock.now(), "nic", principal.user,
                       f"detached NIC {index} (MAC={f['mac']}) from network {f['network']}",
                       ip=f["ip"], mac=f["mac"])  # fmt: skip
                self._release_in(uow, principal, vm.id, index)
            uow.commit()
        return {**f, "nic_id": str(index)}

    @staticmethod
    def _index(vm: Vm, facts: list[Mapping[str, str]], nic: str) -> int:
        found = [i for i, f in enumerate(facts) if nic.lower() in (str(i), f["mac"].lower())]
        if not found:
            raise NotFound(f"NIC of VM {vm.id}", nic, f"stratus describe-instance {vm.id}")
        index = found[0]
        if index == 0 or index != len(facts) - 1:
            raise InvalidInput(
                f"VM {vm.id}: NIC {index} cannot be detached (it has {len(facts)} NICs)",
                hint=f"only the last NIC ({len(facts) - 1}) of a VM with several can be "
                "detached; its first NIC stays until the VM ends",
            )
        return index

    # --- as jobs (REST) ---------------------------------------------------------------------

    def nics(self, principal: Principal, vm_id: int) -> list[dict[str, str]]:
        """The VM's NICs in order (nic_id, network, ip, mac..., the VM's owner), for whoever may
        see the VM."""
        with self.uow(readonly=True) as uow:
            vm = uow.vms.get(vm_id)
        if vm is None:
            raise NotFound("VM", vm_id, LISTING)
        authorize(principal, "read", vm.owner, vm.group, PRIVATE, what="VM", ident=vm_id,
                  listing=LISTING)  # fmt: skip
        return [{**f, "nic_id": str(i), "owner": vm.owner}
                for i, f in enumerate(vm.spec.networks)]

    def queue_attach(self, principal: Principal, vm_id: int, network_name: str,
                     ip: str | None = None) -> Job:  # fmt: skip
        """Check the attach now and queue it; the job's `result` is the new NIC's facts."""
        vm, _owner = self._authorized(principal, vm_id)
        self._target(vm, "attach a NIC")
        self._free_index(vm)
        with self.uow(readonly=True) as uow:
            require(principal, get_network(repo_of(uow), network_name), "use")
        return self._queue(principal, vm, NIC_ATTACH_JOB, {"network": network_name, "ip": ip})

    def queue_detach(self, principal: Principal, vm_id: int, nic: str) -> Job:
        """Check the detach now and queue it; the job's `result` is the removed NIC's facts."""
        vm, _owner = self._authorized(principal, vm_id)
        self._target(vm, "detach a NIC")
        self._index(vm, list(vm.spec.networks), nic)
        return self._queue(principal, vm, NIC_DETACH_JOB, {"nic": nic})

    def _queue(self, principal: Principal, vm: Vm, kind: str, params: dict[str, Any]) -> Job:
        now = self.clock.now()
        caller = {"user": principal.user, "user_id": principal.user_id,
                  "groups": list(principal.groups), "roles": sorted(principal.roles),
                  "method": principal.method, "limited": principal.limited}
        job = Job(None, kind, principal.user, vm_id=vm.id, step="queued", created_at=now,
                  updated_at=now, params={**params, "caller": caller})
        with self.uow() as uow:
            uow.jobs.add(job)
            uow.commit()
        self.wake()
        return job

    def run_attach(self, job: Job) -> None:
        """Handler of `nic-attach` jobs.  A re-run after a finished attach does nothing; one
        after an interrupted attempt (the server stopped) first takes back what that attempt
        made past the VM's NICs (lease, node NIC, guest device), then attaches."""
        if job.params.get("result"):
            return
        caller, p = _caller(job), job.params
        if job.attempts > 1:
            self._clear_leftovers(caller, job.vm_id or 0)
        self._done(job, self.attach(caller, job.vm_id or 0, p["network"], p.get("ip")))

    def _clear_leftovers(self, principal: Principal, vm_id: int) -> None:
        vm = self._load(vm_id)
        first = len(vm.spec.networks)
        with self.uow(readonly=True) as uow:
            repo = repo_of(uow)
            stale = [(le, get_network(repo, le.network)) for le in repo.leases_for_vm(vm_id)
                     if le.nic_index >= first]
        driver = self.extension.drivers.get(vm.host or "")
        for lease, network in stale:
            if driver is not None:
                self._undo(principal, vm_id, lease.nic_index, network, lease, driver, True)

    def run_detach(self, job: Job) -> None:
        """Handler of `nic-detach` jobs."""
        if not job.params.get("result"):
            self._done(job, self.detach(_caller(job), job.vm_id or 0, str(job.params["nic"])))

    def _done(self, job: Job, facts: Mapping[str, str]) -> None:
        with self.uow() as uow:
            current = uow.jobs.get(job.id or 0)
            if current is not None:
                current.step, current.updated_at = "done", self.clock.now()
                current.params = {**current.params, "result": dict(facts)}
                uow.jobs.update(current)
                uow.commit()

    # --- leases ----------------------------------------------------------------------------

    def _release(self, principal: Principal, vm_id: int, index: int) -> None:
        with self.uow() as uow:
            self._release_in(uow, principal, vm_id, index)
            uow.commit()

    def _release_in(self, uow: UnitOfWork, principal: Principal, vm_id: int, index: int) -> None:
        repo = repo_of(uow)
        for lease in repo.leases_for_vm(vm_id):
            if lease.nic_index != index:
                continue
            if lease.reservation_id is not None and repo.get_reservation(lease.reservation_id):
                repo.update_lease(dataclasses.replace(lease, vm_id=None, nic_index=0))
            else:
                repo.delete_lease(lease.network, lease.ip)
            self._lease_event(uow, vm_id, principal.user, lease, acquired=False)

    def _lease_event(self, uow: UnitOfWork, vm_id: int, actor: str, lease: Lease, *,
                     acquired: bool) -> None:  # fmt: skip
        record(uow, vm_id, self.clock.now(), "lease", actor,
               lease_message(lease, acquired=acquired), ip=lease.ip, mac=lease.mac)  # fmt: skip

    def _load(self, vm_id: int) -> Vm:
        with self.uow(readonly=True) as uow:
            vm = uow.vms.get(vm_id)
        if vm is None:
            raise NotFound("VM", vm_id, "stratus describe-instances")
        return vm

    def _host(self, vm_id: int) -> str | None:
        with self.uow(readonly=True) as uow:
            vm = uow.vms.get(vm_id)
        return vm.host if vm else None


def _caller(job: Job) -> Principal:
    """The principal that queued `job` (authenticated then; checked again by attach/detach)."""
    c = job.params["caller"]
    return Principal(str(c["user"]), int(c["user_id"]), tuple(c["groups"]),
                     frozenset(c["roles"]), method=str(c["method"]), limited=bool(c["limited"]))
