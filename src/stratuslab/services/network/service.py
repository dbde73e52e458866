"""NetworkService: the network use cases front ends call (networks, ranges, holds, reservations,
security groups), each in its own unit of work, with the caller's rights checked.

Admins define the cloud's networks, ranges and holds; users create networks of their own
(class `tenant`, within their quota; see tenancy.py for the rights), reserve addresses on networks
they may use and own security groups, and see and touch only what they may (another user's
network, reservation or group answers NotFound).  Rule
changes are applied live to the NICs of running VMs through `apply_live`, a callable the
network extension provides.  Imports core and services only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stratuslab.core.entities import Principal, Vm
from stratuslab.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from stratuslab.core.network import AddressRange, Lease, Network, Reservation, SecurityGroup
from stratuslab.core.ports import Page, UnitOfWorkFactory, VmFilter
from stratuslab.core.templates import checked_text
from stratuslab.services.network.definitions import (
    SegmentPool,
    add_range,
    create_network,
    get_network,
    network_from_table,
)
from stratuslab.services.network.ipam import Ipam, NetworkUsage
from stratuslab.services.network.repository import NetworkRepo
from stratuslab.services.network.routers import RouterMixin
from stratuslab.services.network.secgroups import parse_rule, validate_group
from stratuslab.services.network.tenancy import (
    checked_group,
    checked_permissions,
    is_tenant,
    may_use,
    require,
    tenant_network,
)

REPO = "networks"  # the name NetworkRepo is registered under in the unit of work


@dataclass(frozen=True, slots=True)
class NetworkView:
    network: Network
    usage: NetworkUsage


def repo_of(uow: Any) -> NetworkRepo:
    repo: NetworkRepo = uow.repo(REPO)
    return repo


def require_admin(principal: Principal, what: str) -> None:
    if not principal.is_admin:
        raise Forbidden(f"{what} is reserved to administrators", hint="ask your cloud admin")


class NetworkService(RouterMixin):
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        pool: SegmentPool,
        *,
        ipam: Ipam | None = None,
        lease_quota: int = 0,
        user_max_networks: int = 0,
        apply_live: Callable[[Sequence[int]], None] = lambda vm_ids: None,
        remove_segment: Callable[[Network], None] = lambda network: None,
        apply_segment: Callable[[Network], None] = lambda network: None,
    ) -> None:
        self.uow = uow
        self.pool = pool
        self.ipam = ipam or Ipam()
        self.lease_quota = lease_quota
        self.user_max_networks = user_max_networks
        self.apply_live = apply_live  # re-applies the rules of these VMs' NICs on their node
        self.remove_segment = remove_segment  # takes a deleted network's segment off the nodes
        self.apply_segment = apply_segment  # makes the nodes' data plane follow a change

    def quota_for(self, principal: Principal) -> int | None:
        return None if principal.is_admin or self.lease_quota <= 0 else self.lease_quota

    # --- networks --------------------------------------------------------------------------

    def networks(self, principal: Principal | None = None) -> list[NetworkView]:
        """Every network (principal None: internal callers), or those `principal` may use."""
        with self.uow(readonly=True) as uow:
            repo = repo_of(uow)
            return [NetworkView(n, self.ipam.usage(repo, n.name)) for n in repo.list_networks()
                    if principal is None or may_use(principal, n)]  # fmt: skip

    def show(
        self, name: str, principal: Principal | None = None
    ) -> tuple[NetworkView, list[Lease], list[Any]]:
        with self.uow(readonly=True) as uow:
            repo = repo_of(uow)
            network = get_network(repo, name)
            if principal is not None:
                require(principal, network, "read")
            view = NetworkView(network, self.ipam.usage(repo, name))
            return view, repo.leases(name), repo.holds(name)

    def create(self, principal: Principal, name: str, table: Mapping[str, Any], *,
               template: str | None = None) -> Network:
        """Admins define any network; a user makes a `tenant` network of their own (its own
        segment from the pool, rights um-------), within network.user_max_networks.
        `template`: the OpenNebula TEMPLATE it was asked with (BRIDGE...), kept as given."""
        if principal.is_admin and table.get("address_class") != "tenant":
            network = dataclasses.replace(network_from_table(name, table, pool=self.pool),
                                          owner=principal.user)  # fmt: skip
        else:
            with self.uow(readonly=True) as uow:
                others = repo_of(uow).list_networks()
            network = tenant_network(principal, name, table, pool=self.pool, others=others,
                                     quota=self.user_max_networks)  # fmt: skip
        if template is not None:
            network = dataclasses.replace(network, template=checked_text(f"network {name}", template))
        with self.uow() as uow:
            made = create_network(repo_of(uow), network, self.pool)
            uow.commit()
        return made

    def delete(self, principal: Principal, name: str) -> None:
        with self.uow() as uow:
            repo = repo_of(uow)
            network = get_network(repo, name)
            self._require_manage(principal, network, "deleting a network")
            leases = repo.leases(name)
            if leases:
                vms = sorted({le.vm_id for le in leases if le.vm_id is not None})
                raise Conflict(
                    f"network {name} still has {len(leases)} leases"
                    + (f" (VMs {', '.join(map(str, vms))})" if vms else " (reservations)"),
                    hint="kill those VMs and release the reservations first",
                )
            repo.delete_network(name)
            uow.commit()
        self.remove_segment(network)

    def share(
        self, principal: Principal, name: str, *, permissions: str | None = None,
        group: str | None = None, owner: str | None = None,
    ) -> Network:  # fmt: skip
        """chmod / chgrp of a network: its owner (MANAGE right) or an administrator; chown to
        another user: administrators only."""
        with self.uow() as uow:
            repo = repo_of(uow)
            network = get_network(repo, name)
            self._require_manage(principal, network, "sharing a network")
            if owner is not None and owner != network.owner:
                require_admin(principal, f"giving network {name} to another user")
                network = dataclasses.replace(network, owner=owner)
            if permissions is not None:
                network = dataclasses.replace(
                    network, permissions=checked_permissions(principal, network, permissions))
            if group is not None:
                network = dataclasses.replace(
                    network, group=checked_group(principal, network, group))
            repo.update_network(network)
            uow.commit()
        return network

    def update_template(self, principal: Principal, name: str, text: str) -> Network:
        """Replace a network's free-form TEMPLATE (OpenNebula vn.update): who may manage it."""
        with self.uow() as uow:
            repo = repo_of(uow)
            network = get_network(repo, name)
            self._require_manage(principal, network, "changing a network's template")
            network = dataclasses.replace(network, template=checked_text(f"network {name}", text))
            repo.update_network(network)
            uow.commit()
        return network

    @staticmethod
    def _require_manage(principal: Principal, network: Network, what: str) -> None:
        if is_tenant(network):
            require(principal, network, "manage")
        else:
            require_admin(principal, what)

    def set_enabled(self, principal: Principal, name: str, enabled: bool) -> Network:
        """Bring a network up (enabled) or down: a down network gives no new leases (VMs that
        have one keep it); run-instance and reservations on it are refused with 409."""
        require_admin(principal, "taking a network up or down")
        with self.uow() as uow:
            repo = repo_of(uow)
            network = dataclasses.replace(get_network(repo, name), enabled=enabled)
            repo.update_network(network)
            uow.commit()
        return network

    def add_range(self, principal: Principal, name: str, text: str) -> Network:
        require_admin(principal, "adding an address range")
        with self.uow() as uow:
            network = add_range(repo_of(uow), name, AddressRange.parse(text))
            uow.commit()
        return network

    def remove_range(self, principal: Principal, name: str, text: str) -> Network:
        require_admin(principal, "removing an address range")
        gone = AddressRange.parse(text)
        with self.uow() as uow:
            repo = repo_of(uow)
            network = get_network(repo, name)
            if gone not in network.ranges:
                ranges = ", ".join(str(r) for r in network.ranges)
                raise NotFound(f"range {gone} of network", name, f"stratus network show {name} "
                               f"(ranges: {ranges})")  # fmt: skip
            used = [le.ip for le in repo.leases(name) if gone.contains(le.ip)]
            if used:
                raise Conflict(
                    f"range {gone} of network {name} has {len(used)} leased addresses "
                    f"({', '.join(used[:5])})",
                    hint="release them first (kill the VMs, release reservations)",
                )
            if len(network.ranges) == 1:
                raise Conflict(
                    f"range {gone} is the last one of network {name}",
                    hint="delete the network instead: stratus network delete",
                )
            changed = dataclasses.replace(
                network, ranges=tuple(r for r in network.ranges if r != gone)
            )
            repo.update_network(changed)
            uow.commit()
        return changed

    def hold(self, principal: Principal, name: str, ip: str, reason: str = "") -> None:
        require_admin(principal, "holding an address")
        with self.uow() as uow:
            self.ipam.hold(repo_of(uow), name, ip, reason)
            uow.commit()

    def release_hold(self, principal: Principal, name: str, ip: str) -> None:
        require_admin(principal, "releasing a hold")
        with self.uow() as uow:
            self.ipam.release_hold(repo_of(uow), name, ip)
            uow.commit()

    # --- reservations ----------------------------------------------------------------------

    def reserve(
        self, principal: Principal, network: str, count: int, name: str = ""
    ) -> tuple[Reservation, list[Lease]]:
        with self.uow() as uow:
            require(principal, get_network(repo_of(uow), network), "use")
            made = self.ipam.reserve(
                repo_of(uow), network, owner=principal.user, count=count,
                quota=self.quota_for(principal), name=name,
            )  # fmt: skip
            uow.commit()
        return made

    def reservations(self, principal: Principal) -> list[tuple[Reservation, list[Lease]]]:
        with self.uow(readonly=True) as uow:
            repo = repo_of(uow)
            owner = None if principal.is_admin else principal.user
            return [(r, repo.leases_for_reservation(r.id or 0)) for r in repo.reservations(owner)]

    def release_reservation(self, principal: Principal, reservation_id: int) -> None:
        with self.uow() as uow:
            repo = repo_of(uow)
            res = repo.get_reservation(reservation_id)
            if res is None or not (principal.is_admin or res.owner == principal.user):
                raise NotFound("reservation", reservation_id, "stratus reservation list")
            self.ipam.release_reservation(repo, reservation_id, res.owner)
            uow.commit()

    # --- security groups -------------------------------------------------------------------

    def groups(self, principal: Principal) -> list[SecurityGroup]:
        with self.uow(readonly=True) as uow:
            return repo_of(uow).list_groups(None if principal.is_admin else principal.user)

    def group(self, principal: Principal, name: str) -> SecurityGroup:
        with self.uow(readonly=True) as uow:
            return self._group(repo_of(uow), principal.user, name)

    def create_group(
        self, principal: Principal, name: str, rules: Sequence[str] = (), description: str = ""
    ) -> SecurityGroup:
        group = SecurityGroup(name, principal.user, tuple(parse_rule(r) for r in rules),
                              description)  # fmt: skip
        validate_group(group)
        with self.uow() as uow:
            made = repo_of(uow).add_group(group)
            uow.commit()
        return made

    def delete_group(self, principal: Principal, name: str) -> None:
        with self.uow() as uow:
            repo = repo_of(uow)
            self._group(repo, principal.user, name)
            users = [vm.id for vm in live_vms(uow, principal.user) if name in vm_groups(vm)]
            if users:
                raise Conflict(
                    f"security group {name} is attached to VM {', '.join(map(str, users))}",
                    hint="kill those VMs first, or attach them other groups",
                )
            repo.delete_group(principal.user, name)
            uow.commit()

    def add_rule(self, principal: Principal, name: str, text: str) -> SecurityGroup:
        return self._change_rules(principal, name, text, add=True)

    def delete_rule(self, principal: Principal, name: str, text: str) -> SecurityGroup:
        return self._change_rules(principal, name, text, add=False)

    def _change_rules(
        self, principal: Principal, name: str, text: str, *, add: bool
    ) -> SecurityGroup:
        rule = parse_rule(text)
        with self.uow() as uow:
            repo = repo_of(uow)
            group = self._group(repo, principal.user, name)
            if add:
                rules = group.rules if rule in group.rules else (*group.rules, rule)
            elif rule not in group.rules:
                raise NotFound(f"rule '{text}' of security group", name,
                               f"stratus secgroup show {name}")  # fmt: skip
            else:
                rules = tuple(r for r in group.rules if r != rule)
            changed = dataclasses.replace(group, rules=rules)
            validate_group(changed)
            repo.update_group(changed)
            affected = [vm.id or 0 for vm in live_vms(uow, principal.user)
                        if name in vm_groups(vm)]  # fmt: skip
            uow.commit()
        self.apply_live(affected)
        return changed

    def attach(self, principal: Principal, vm_id: int, names: Sequence[str]) -> Vm:
        """Set the security groups of every NIC of a VM (replacing the previous ones), live."""
        with self.uow() as uow:
            repo = repo_of(uow)
            vm = uow.vms.get(vm_id)
            if vm is None or not (principal.is_admin or vm.owner == principal.user):
                raise NotFound("VM", vm_id)
            for n in names:
                self._group(repo, vm.owner, n)
            nics = [{**n, "secgroups": list(names)} for n in vm.spec.nics]
            if not nics:
                raise InvalidInput(f"VM {vm_id} has no NIC to attach security groups to")
            spec = vm.spec.with_(nics=nics)
            if not uow.vms.cas_state(vm_id, vm.state, vm.state, spec=spec):
                raise Conflict(f"VM {vm_id} changed meanwhile", hint="retry")
            uow.commit()
            vm.spec = spec
        self.apply_live([vm_id])
        return vm

    @staticmethod
    def _group(repo: NetworkRepo, owner: str, name: str) -> SecurityGroup:
        group = repo.get_group(owner, name)
        if group is None:
            raise NotFound("security group", name, "stratus secgroup list")
        return group


def vm_groups(vm: Vm) -> set[str]:
    return {g for nic in vm.spec.nics for g in nic.get("secgroups", [])}


def live_vms(uow: Any, owner: str) -> list[Vm]:
    """The owner's VMs that are not finished (their NICs may carry rules)."""
    vms: list[Vm] = uow.vms.list(VmFilter(owner=owner), Page(0, 100_000))
    return [vm for vm in vms if vm.state not in ("done", "failed")]
