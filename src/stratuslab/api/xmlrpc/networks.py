"""The network half of the XML-RPC services backend (`one.vn.*`, NICs of `one.vm.allocate`).

Works over the "networks" service of the extras mapping when the network feature is wired;
without it there are no networks: listings are empty, a NIC names a missing network (0x400) and
changes raise NotImplementedError (0x800).  Translation only.  Imports core and this package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stratuslab.api.xmlrpc.backend import (
    AddressRange,
    NetworkAllocate,
    NetworkRecord,
    NicRequest,
    Reservation,
)
from stratuslab.core.entities import Principal
from stratuslab.core.errors import NotFound

LISTING = "one.vnpool.info"


class NetworkCalls:
    extras: Mapping[str, Any]

    def _networks(self) -> Any:
        service = self.extras.get("networks")
        if service is None:
            raise NotImplementedError("virtual networks")
        return service

    def nic_command(self, principal: Principal, nic: NicRequest) -> dict[str, str]:
        """A NIC of a VM template -> RunInstance.nics entry {"network": name, "ip": address}."""
        wanted: int | str | None = nic.network_id if nic.network_id is not None else nic.network
        if wanted is None:
            raise NotFound("virtual network", "(none given)", LISTING)
        for net in self.network_list(principal):
            if wanted in (net.id, net.name):
                return {"network": net.name, **({"ip": nic.ip} if nic.ip else {})}
        raise NotFound("virtual network", wanted, LISTING)

    def network_list(self, principal: Principal) -> Sequence[NetworkRecord]:
        if self.extras.get("networks") is None:
            return []
        raise NotImplementedError("virtual networks")

    def network_allocate(self, principal: Principal, request: NetworkAllocate) -> int:
        raise NotImplementedError("creating virtual networks")

    def network_delete(self, principal: Principal, net_id: int) -> None:
        raise NotImplementedError("deleting virtual networks")

    def network_add_range(self, principal: Principal, net_id: int, ar: AddressRange) -> None:
        raise NotImplementedError("address ranges")

    def network_update_range(self, principal: Principal, net_id: int, ar: AddressRange) -> None:
        raise NotImplementedError("address ranges")

    def network_rm_range(self, principal: Principal, net_id: int, ar_id: int) -> None:
        raise NotImplementedError("address ranges")

    def network_hold(self, principal: Principal, net_id: int, address: str) -> None:
        raise NotImplementedError("address holds")

    def network_release(self, principal: Principal, net_id: int, address: str) -> None:
        raise NotImplementedError("address holds")

    def network_remove_lease(self, principal: Principal, net_id: int, address: str) -> None:
        raise NotImplementedError("3.x leases")

    def network_reserve(self, principal: Principal, net_id: int, reservation: Reservation) -> int:
        raise NotImplementedError("address reservations")
