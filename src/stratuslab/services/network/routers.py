"""Routers of tenant networks (a mixin of NetworkService): a user connects a network of their
own to the cloud's external network (public by default) with NAT, and maps floating addresses
of the external network to private addresses, in the way of OpenStack routers.

The router's external address and each floating address are reservations of the owner on the
external network (they count in the lease quota and show in `stratus reservation list`); the
data plane follows through `apply_segment` (the node's driver re-ensures the segment with its
router).  Needs MANAGE on the tenant network and USE on the external one.  Imports core and
services only.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable
from typing import Any

from stratuslab.core.entities import Principal
from stratuslab.core.errors import Conflict, InvalidInput, NotFound
from stratuslab.core.network import FloatingIp, Network, Router
from stratuslab.core.ports import UnitOfWorkFactory
from stratuslab.services.network.definitions import get_network
from stratuslab.services.network.ipam import Ipam
from stratuslab.services.network.tenancy import is_tenant, require


class RouterMixin:
    uow: UnitOfWorkFactory
    ipam: Ipam
    apply_segment: Callable[[Network], None]

    def quota_for(self, principal: Principal) -> int | None: ...

    def set_router(self, principal: Principal, name: str, *, enabled: bool,
                   external: str = "public") -> Network:  # fmt: skip
        """Add (enabled) or remove the router of tenant network `name`."""
        with self.uow() as uow:
            repo = uow.repo("networks")
            network = self._tenant(principal, repo, name)
            if enabled and network.router is None:
                ext = get_network(repo, external)
                require(principal, ext, "use")
                if is_tenant(ext):
                    raise InvalidInput(f"network {external} is a tenant network; a router "
                                       "leads to one of the cloud's", hint="use public")
                res, [lease] = self.ipam.reserve(repo, ext.name, owner=network.owner, count=1,
                                                 quota=self.quota_for(principal),
                                                 name=f"router:{name}")  # fmt: skip
                network = dataclasses.replace(network, router=Router(ext, lease.ip, res.id))
            elif not enabled and network.router is not None:
                router = network.router
                for fip in router.floating:
                    self.ipam.release_reservation(repo, fip.reservation_id or 0, network.owner)
                self.ipam.release_reservation(repo, router.reservation_id or 0, network.owner)
                network = dataclasses.replace(network, router=None)
            repo.update_network(network)
            uow.commit()
        self.apply_segment(network)
        return network

    def add_floating(self, principal: Principal, name: str, private_ip: str) -> FloatingIp:
        with self.uow() as uow:
            repo = uow.repo("networks")
            network = self._tenant(principal, repo, name)
            router = self._router(network)
            try:
                inside = ipaddress.IPv4Address(private_ip) in ipaddress.IPv4Network(
                    network.subnet)
            except ValueError:
                inside = False
            if not inside:
                raise InvalidInput(f"{private_ip!r} is not an address of network {name} "
                                   f"({network.subnet})", hint="give a guest's address")
            if any(f.private_ip == private_ip for f in router.floating):
                raise Conflict(f"{private_ip} of network {name} already has a floating address",
                               hint=f"stratus network show {name}")  # fmt: skip
            res, [lease] = self.ipam.reserve(repo, router.external.name, owner=network.owner,
                                             count=1, quota=self.quota_for(principal),
                                             name=f"floating:{name}")  # fmt: skip
            fip = FloatingIp(lease.ip, private_ip, res.id)
            network = dataclasses.replace(
                network, router=dataclasses.replace(router, floating=(*router.floating, fip)))
            repo.update_network(network)
            uow.commit()
        self.apply_segment(network)
        return fip

    def remove_floating(self, principal: Principal, name: str, ip: str) -> None:
        with self.uow() as uow:
            repo = uow.repo("networks")
            network = self._tenant(principal, repo, name)
            router = self._router(network)
            gone = [f for f in router.floating if f.ip == ip]
            if not gone:
                raise NotFound(f"floating address of network {name}", ip,
                               f"stratus network show {name}")  # fmt: skip
            self.ipam.release_reservation(repo, gone[0].reservation_id or 0, network.owner)
            network = dataclasses.replace(network, router=dataclasses.replace(
                router, floating=tuple(f for f in router.floating if f.ip != ip)))
            repo.update_network(network)
            uow.commit()
        self.apply_segment(network)

    @staticmethod
    def _tenant(principal: Principal, repo: Any, name: str) -> Network:
        network = get_network(repo, name)
        if not is_tenant(network):
            require(principal, network, "use")  # NotFound first when it is not even visible
            raise InvalidInput(f"network {name} is one of the cloud's; routers connect tenant "
                               "networks", hint="create a network of your own first")
        require(principal, network, "manage")
        return network

    @staticmethod
    def _router(network: Network) -> Router:
        if network.router is None:
            raise Conflict(f"network {network.name} has no router",
                           hint=f"add one: stratus network router {network.name} --on")
        return network.router
