"""FakeNetworks: the "public" network (id 0) and what is allocated or reserved from it (the
NetworkPort); lease changes are recorded only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from stratuslab.api.xmlrpc.backend import AddressRange, NetworkAllocate, NetworkRecord, Reservation
from stratuslab.core.entities import Principal
from stratuslab.core.errors import NotFound


class FakeNetworks:
    def __init__(self, calls: list[tuple[Any, ...]]) -> None:
        self.calls = calls
        self.records = {
            0: NetworkRecord.from_mapping(
                {
                    "id": 0,
                    "name": "public",
                    "owner": "oneadmin",
                    "group": "oneadmin",
                    "bridge": "br-public",
                    "address_ranges": [{"type": "IP4", "ip": "10.1.0.2", "size": 200}],
                }
            )
        }

    def get(self, net_id: int) -> NetworkRecord:
        if net_id not in self.records:
            raise NotFound("virtual network", net_id, listing="one.vnpool.info")
        return self.records[net_id]

    def list(self, principal: Principal) -> Sequence[NetworkRecord]:
        return [*self.records.values()]

    def allocate(self, principal: Principal, request: NetworkAllocate) -> int:
        self.calls.append(("network_allocate", request))
        net_id = max(self.records) + 1
        ranges = tuple({"type": r.type, "ip": r.ip, "size": r.size} for r in request.ranges)
        self.records[net_id] = NetworkRecord(
            net_id,
            request.name,
            principal.user,
            principal.groups[0],
            request.bridge or "",
            address_ranges=ranges,
        )
        return net_id

    def delete(self, principal: Principal, net_id: int) -> None:
        del self.records[self.get(net_id).id]

    def add_range(self, principal: Principal, net_id: int, ar: AddressRange) -> None:
        self.calls.append(("network_add_range", net_id, ar))
        net = self.get(net_id)
        ranges = (*net.address_ranges, {"type": ar.type, "ip": ar.ip, "size": ar.size})
        self.records[net_id] = replace(net, address_ranges=ranges)

    def update_range(self, principal: Principal, net_id: int, ar: AddressRange) -> None:
        self.calls.append(("network_update_range", net_id, ar))

    def rm_range(self, principal: Principal, net_id: int, ar_id: int) -> None:
        net = self.get(net_id)
        ranges = tuple(r for i, r in enumerate(net.address_ranges) if i != ar_id)
        self.records[net_id] = replace(net, address_ranges=ranges)

    def hold(self, principal: Principal, net_id: int, address: str) -> None:
        self.get(net_id)
        self.calls.append(("network_hold", net_id, address))

    def release(self, principal: Principal, net_id: int, address: str) -> None:
        self.calls.append(("network_release", net_id, address))

    def remove_lease(self, principal: Principal, net_id: int, address: str) -> None:
        self.calls.append(("network_remove_lease", net_id, address))

    def reserve(self, principal: Principal, net_id: int, reservation: Reservation) -> int:
        self.calls.append(("network_reserve", net_id, reservation))
        parent = self.get(net_id)
        new_id = max(self.records) + 1
        self.records[new_id] = replace(
            parent, id=new_id, name=reservation.name or "reservation", used_leases=0
        )
        return new_id
