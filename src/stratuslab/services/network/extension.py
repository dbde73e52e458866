"""NetworkExtension: leases and NICs through the VM lifecycle (services/extensions.py hooks).

- validate: NIC requests are well formed, their networks, addresses and security groups exist,
  and the caller has the USE right on each network;
- on_create: one lease per NIC in the VM-creation transaction; vm.ip/ipv6/mac, a lease event,
  vm.spec.networks (the facts contextualization writes: mac, ip, prefix, gateway, ipv6, dns)
  and vm.spec.nics (network and security groups per NIC); the image's declared inbound ports
  go to vm.spec.inbound_ports (with a firewall event) and open every NIC's firewall;
- on_prolog: re-takes a lease a failed deploy released (the same address), plugs the NICs on the
  node with their rules and returns the NicSpecs;
- on_replug: the same plugging for a VM coming back to running (resume, recover, start after
  poweroff, reboot, server start-up), so a guest never runs without its network;
- on_node_release: unplugs; on_finish: releases the leases once, in the done/failed transaction.
Imports core and services only; the node's network driver arrives as a NetworkDriverPort.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stratuslab.core.commands import RunInstance
from stratuslab.core.entities import Principal, Vm
from stratuslab.core.errors import CloudError, Conflict, InvalidInput, NotFound
from stratuslab.core.hypervisor import NicSpec
from stratuslab.core.network import Lease, Network, NetworkDriverPort, Rule, SecurityGroup
from stratuslab.core.node import Node
from stratuslab.core.ports import Clock, UnitOfWork, UnitOfWorkFactory
from stratuslab.services.common import record
from stratuslab.services.extensions import PrologAdditions, VmExtension
from stratuslab.services.network.definitions import get_network
from stratuslab.services.network.ipam import Ipam, check_up, lease_message
from stratuslab.services.network.repository import NetworkRepo
from stratuslab.services.network.secgroups import rules_for_nic
from stratuslab.services.network.service import live_vms, repo_of
from stratuslab.services.network.tenancy import is_tenant, require

log = logging.getLogger(__name__)
NIC_KEYS = frozenset({"network", "ip", "secgroup", "reservation"})
MAX_NICS = 8
LIVE_STATES = ("running", "unknown", "boot", "poweroff")


def nic_facts(network: Network, lease: Lease) -> dict[str, str]:
    """What contextualization needs for one NIC (the keys storage's context writer reads)."""
    facts = {"network": network.name, "mac": lease.mac, "ip": lease.ip,
             "prefix": str(network.prefixlen)}  # fmt: skip
    if network.gateway:
        facts["gateway"] = network.gateway
    if lease.ipv6:
        facts["ipv6"] = f"{lease.ipv6}/64"
    if network.dns:
        facts["dns"] = " ".join(network.dns)
    return facts


class NetworkExtension(VmExtension):
    name = "network"

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        drivers: Mapping[str, NetworkDriverPort],
        *,
        default_network: str = "public",
        quota: Callable[[Principal], int | None] = lambda p: None,
        ipam: Ipam | None = None,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.drivers = drivers  # node name -> that node's network driver
        self.default_network = default_network
        self.quota = quota
        self.ipam = ipam or Ipam()

    # --- before and at creation ------------------------------------------------------------

    def requests(self, cmd: RunInstance) -> list[Mapping[str, str]]:
        return list(cmd.nics) or [{"network": self.default_network}]

    def validate(self, principal: Principal, cmd: RunInstance) -> None:
        reqs = self.requests(cmd)
        if len(reqs) > MAX_NICS:
            raise InvalidInput(f"{len(reqs)} NICs requested; a VM has at most {MAX_NICS}")
        with self.uow(readonly=True) as uow:
            repo = repo_of(uow)
            for i, req in enumerate(reqs):
                self._check_request(repo, principal, cmd, i, req)

    def _check_request(
        self, repo: NetworkRepo, principal: Principal, cmd: RunInstance, i: int,
        req: Mapping[str, str],
    ) -> None:  # fmt: skip
        unknown = set(req) - NIC_KEYS
        if unknown:
            raise InvalidInput(f"NIC {i}: unknown key {sorted(unknown)[0]!r}",
                               hint=f"NIC requests take {', '.join(sorted(NIC_KEYS))}")  # fmt: skip
        network = self._network_for(repo, req)
        require(principal, network, "use")  # NotFound when the caller may not even see it
        check_up(network)  # before any transaction: run-instance on a down network is refused
        ip = req.get("ip")
        if ip:
            if cmd.count > 1:
                raise InvalidInput(
                    f"address {ip} requested for {cmd.count} VMs",
                    hint="a fixed address goes with --number 1",
                )
            self.ipam._check_requested(repo, network, ip, principal.user)
        for name in _groups(req):
            if repo.get_group(principal.user, name) is None:
                raise NotFound("security group", name, "stratus secgroup list")

    def _network_for(self, repo: NetworkRepo, req: Mapping[str, str]) -> Network:
        if req.get("network"):
            return get_network(repo, req["network"])
        ip = req.get("ip")
        if ip:
            try:
                ipaddress.IPv4Address(ip)
            except ValueError:
                raise InvalidInput(f"{ip!r} is not an IPv4 address") from None
            for network in repo.list_networks():
                if network.in_ranges(ip) and not is_tenant(network):  # tenants' may overlap
                    return network
            raise InvalidInput(
                f"address {ip} is outside every range of every network",
                hint="pick an address from a range shown by: stratus network list",
            )
        return get_network(repo, self.default_network)

    def on_create(self, uow: UnitOfWork, principal: Principal, vm: Vm, cmd: RunInstance) -> None:
        assert vm.id is not None
        repo = repo_of(uow)
        facts, nics = [], []
        for i, req in enumerate(self.requests(cmd)):
            network = self._network_for(repo, req)
            res = req.get("reservation")
            lease = self.ipam.acquire(
                repo, network.name, vm_id=vm.id, owner=vm.owner, nic_index=i,
                ip=req.get("ip") or None, quota=self.quota(principal),
                reservation_id=int(res) if res else None,
            )  # fmt: skip
            self._event(uow, vm.id, principal.user, lease, acquired=True)
            facts.append(nic_facts(network, lease))
            nics.append({"network": network.name, "secgroups": _groups(req)})
        first = facts[0]
        vm.ip, vm.mac = first["ip"], first["mac"]
        vm.ipv6 = first["ipv6"].split("/")[0] if "ipv6" in first else None
        vm.spec = vm.spec.with_(networks=facts, nics=nics)
        self._image_ports(uow, vm)

    def _image_ports(self, uow: UnitOfWork, vm: Vm) -> None:
        """Keep the image's declared inbound ports with the VM (a later image change does not
        alter a running VM's firewall) and say in its event log which ports they open."""
        image = uow.images.get(vm.image_id)
        ports = sorted(set(image.inbound_ports)) if image is not None else []
        if not ports:
            return
        vm.spec = vm.spec.with_(inbound_ports=ports)
        record(uow, vm.id or 0, self.clock.now(), "firewall", "system",
               f"image {vm.image_id} opens inbound TCP port(s) {', '.join(map(str, ports))}")

    # --- on the node -----------------------------------------------------------------------

    def on_prolog(self, vm: Vm, node: Node) -> PrologAdditions:
        driver = self.drivers.get(node.name)
        facts = list(vm.spec.networks)
        if driver is None or not facts:
            return PrologAdditions()
        with self.uow() as uow:
            repo = repo_of(uow)
            leases = self._ensure_leases(uow, repo, vm, facts)
            uow.commit()
            plans = [(repo.get_network(f["network"]), leases[i], self.rules(uow, repo, vm, i))
                     for i, f in enumerate(facts)]  # fmt: skip
        made = []
        for i, (network, lease, rules) in enumerate(plans):
            assert network is not None
            nic = driver.plug_nic(vm.id or 0, i, network, lease, rules)
            if not driver.capabilities.real_data_plane:
                nic = dataclasses.replace(nic, tap=None, netns=None)  # nothing for QEMU to open
            made.append(nic)
        return PrologAdditions(nics=tuple(made))

    def on_replug(self, vm: Vm, node: Node) -> None:
        self.on_prolog(vm, node)  # plugging is idempotent: the same taps, rules and DHCP entries

    def _ensure_leases(
        self, uow: UnitOfWork, repo: NetworkRepo, vm: Vm, facts: Sequence[Mapping[str, str]]
    ) -> dict[int, Lease]:
        """The VM's leases by NIC; a lease a failed deploy released is taken again (same
        address) when the VM is retried, or the retry fails clearly if someone took it."""
        assert vm.id is not None
        held = {le.nic_index: le for le in repo.leases_for_vm(vm.id)}
        for i, f in enumerate(facts):
            if i in held:
                continue
            get_network(repo, f["network"])
            try:
                lease = self.ipam.acquire(repo, f["network"], vm_id=vm.id, owner=vm.owner,
                                          nic_index=i, ip=f["ip"])  # fmt: skip
            except Conflict as exc:
                raise Conflict(
                    f"VM {vm.id}: its address {f['ip']} on network {f['network']} was released "
                    f"when the deploy failed and is taken now ({exc.message})",
                    hint="kill this VM and run a new one",
                ) from None
            self._event(uow, vm.id, "system", lease, acquired=True)
            held[i] = lease
        return held

    def rules(self, uow: UnitOfWork, repo: NetworkRepo, vm: Vm, index: int) -> tuple[Rule, ...]:
        nics = vm.spec.nics
        names = nics[index].get("secgroups", []) if index < len(nics) else []
        groups: list[SecurityGroup] = [g for n in names if (g := repo.get_group(vm.owner, n))]

        def members(owner: str, group: str) -> list[str]:
            out = []
            for other in live_vms(uow, owner):
                for j, nic in enumerate(other.spec.nics):
                    if group in nic.get("secgroups", []):
                        f = other.spec.networks[j]
                        out += [f["ip"]] + ([f["ipv6"].split("/")[0]] if f.get("ipv6") else [])
            return out

        ports = [int(p) for p in vm.spec.inbound_ports]
        return rules_for_nic(vm.owner, groups, members=members, inbound_ports=ports)

    def on_node_release(self, vm: Vm, node: Node) -> None:
        driver = self.drivers.get(node.name)
        facts = vm.spec.networks
        if driver is None or not facts:
            return
        with self.uow(readonly=True) as uow:
            repo = repo_of(uow)
            networks = {f["network"]: repo.get_network(f["network"]) for f in facts}
        for i, f in enumerate(facts):
            network = networks[f["network"]]
            if network is None:
                continue
            v6 = f.get("ipv6", "").split("/")[0] or None
            driver.unplug_nic(vm.id or 0, i, network, Lease(network.name, f["ip"], f["mac"], v6))

    def on_finish(self, uow: UnitOfWork, vm: Vm, final_state: str) -> None:
        released = self.ipam.release_vm(repo_of(uow), vm.id or 0)
        for lease in released:
            self._event(uow, vm.id or 0, "system", lease, acquired=False)
        if released and final_state == "failed":  # its address may go to another VM now
            uow.vms.cas_state(vm.id or 0, final_state, final_state, ip=None, ipv6=None, mac=None)

    def apply_segment(self, network: Network) -> None:
        """Make every node's segment follow a changed network (its router, floating
        addresses); a node that fails is logged, and the next re-plug or restart retries."""
        for name, driver in self.drivers.items():
            try:
                driver.ensure_segment(network)
            except CloudError as exc:
                log.warning("network %s: updating its segment on %s failed: %s", network.name,
                            name, exc.full_message)  # fmt: skip

    def remove_segment(self, network: Network) -> None:
        """A deleted network's segment off every node (bridge, DHCP, its namespace); a node
        that refuses is logged and keeps it until an admin looks (the network row is gone)."""
        for name, driver in self.drivers.items():
            try:
                driver.remove_segment(network)
            except CloudError as exc:
                log.warning("network %s: removing its segment on %s failed: %s", network.name,
                            name, exc.full_message)  # fmt: skip

    # --- live rule changes -----------------------------------------------------------------

    def apply_live(self, vm_ids: Sequence[int]) -> None:
        """Re-apply the rules of these VMs' plugged NICs (after a group or attachment change)."""
        with self.uow(readonly=True) as uow:
            repo = repo_of(uow)
            work = []
            for vm_id in vm_ids:
                vm = uow.vms.get(vm_id)
                if vm is None or vm.state not in LIVE_STATES or vm.host is None:
                    continue
                if vm.host not in self.drivers:
                    continue
                plugged = (vm.spec.prepared or {}).get("nics", [])
                for i, n in enumerate(plugged):
                    work.append((vm.host, NicSpec(**n), self.rules(uow, repo, vm, i)))
        for host, nic, rules in work:
            if nic.tap is not None:  # None: no data plane to filter (simulated driver)
                self.drivers[host].apply_rules(nic, rules)

    def _event(
        self, uow: UnitOfWork, vm_id: int, actor: str, lease: Lease, *, acquired: bool
    ) -> None:
        record(uow, vm_id, self.clock.now(), "lease", actor, lease_message(lease, acquired=acquired),
               ip=lease.ip, mac=lease.mac)  # fmt: skip


def _groups(req: Mapping[str, Any]) -> list[str]:
    raw = req.get("secgroup") or ""
    if isinstance(raw, list | tuple):
        return [str(g) for g in raw if g]
    return [g.strip() for g in str(raw).split(",") if g.strip()]
