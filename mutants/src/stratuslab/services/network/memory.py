"""In-memory NetworkRepo: the fake for unit tests and scale runs with the simulated driver.

Thread-safe, and like the database it refuses a second lease of the same (network, ip), so
concurrency tests exercise IPAM's retry path.  Imports only core and the repository port.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading

from stratuslab.core.errors import Conflict
from stratuslab.core.network import (
    Hold,
    Lease,
    Network,
    Reservation,
    SecurityGroup,
    SegmentKind,
)


class InMemoryNetworkRepo:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self.networks: dict[str, Network] = {}
        self.lease_rows: dict[tuple[str, str], Lease] = {}
        self.hold_rows: dict[tuple[str, str], Hold] = {}
        self.reservation_rows: dict[int, Reservation] = {}
        self.groups: dict[tuple[str, str], SecurityGroup] = {}
        self.add_lease_calls = 0

    # networks
    def add_network(self, network: Network) -> Network:
        with self._lock:
            if network.name in self.networks:
                raise Conflict(f"network {network.name} already exists")
            stored = dataclasses.replace(network, id=next(self._ids))
            self.networks[network.name] = stored
            return stored

    def get_network(self, name: str) -> Network | None:
        return self.networks.get(name)

    def list_networks(self) -> list[Network]:
        return sorted(self.networks.values(), key=lambda n: n.name)

    def update_network(self, network: Network) -> None:
        with self._lock:
            self.networks[network.name] = network

    def delete_network(self, name: str) -> None:
        with self._lock:
            self.networks.pop(name, None)

    def used_segments(self, kind: SegmentKind) -> set[int]:
        return {
            n.segment_id
            for n in self.networks.values()
            if n.segment_kind is kind and n.segment_id is not None
        }

    # leases
    def add_lease(self, lease: Lease) -> None:
        with self._lock:
            self.add_lease_calls += 1
            key = (lease.network, lease.ip)
            if key in self.lease_rows:
                raise Conflict(f"address {lease.ip} of network {lease.network} is already leased")
            self.lease_rows[key] = lease

    def get_lease(self, network: str, ip: str) -> Lease | None:
        return self.lease_rows.get((network, ip))

    def update_lease(self, lease: Lease) -> None:
        with self._lock:
            self.lease_rows[(lease.network, lease.ip)] = lease

    def delete_lease(self, network: str, ip: str) -> bool:
        with self._lock:
            return self.lease_rows.pop((network, ip), None) is not None

    def leases(self, network: str) -> list[Lease]:
        with self._lock:
            return [le for (net, _), le in self.lease_rows.items() if net == network]

    def leases_for_vm(self, vm_id: int) -> list[Lease]:
        with self._lock:
            return [le for le in self.lease_rows.values() if le.vm_id == vm_id]

    def leases_for_reservation(self, reservation_id: int) -> list[Lease]:
        with self._lock:
            return [le for le in self.lease_rows.values() if le.reservation_id == reservation_id]

    def count_leases(self, owner: str) -> int:
        with self._lock:
            return sum(1 for le in self.lease_rows.values() if le.owner == owner)

    # holds
    def add_hold(self, hold: Hold) -> None:
        with self._lock:
            self.hold_rows[(hold.network, hold.ip)] = hold

    def delete_hold(self, network: str, ip: str) -> bool:
        with self._lock:
            return self.hold_rows.pop((network, ip), None) is not None

    def holds(self, network: str) -> list[Hold]:
        return [h for (net, _), h in list(self.hold_rows.items()) if net == network]

    # reservations
    def add_reservation(self, reservation: Reservation) -> Reservation:
        with self._lock:
            stored = dataclasses.replace(reservation, id=next(self._ids))
            assert stored.id is not None
            self.reservation_rows[stored.id] = stored
            return stored

    def get_reservation(self, reservation_id: int) -> Reservation | None:
        return self.reservation_rows.get(reservation_id)

    def delete_reservation(self, reservation_id: int) -> None:
        with self._lock:
            self.reservation_rows.pop(reservation_id, None)

    def reservations(self, owner: str | None = None) -> list[Reservation]:
        rows = list(self.reservation_rows.values())
        return [r for r in rows if owner is None or r.owner == owner]

    # security groups
    def add_group(self, group: SecurityGroup) -> SecurityGroup:
        with self._lock:
            key = (group.owner, group.name)
            if key in self.groups:
                raise Conflict(f"security group {group.name} of {group.owner} already exists")
            stored = dataclasses.replace(group, id=next(self._ids))
            self.groups[key] = stored
            return stored

    def get_group(self, owner: str, name: str) -> SecurityGroup | None:
        return self.groups.get((owner, name))

    def list_groups(self, owner: str | None = None) -> list[SecurityGroup]:
        return [g for g in self.groups.values() if owner is None or g.owner == owner]

    def update_group(self, group: SecurityGroup) -> None:
        with self._lock:
            self.groups[(group.owner, group.name)] = group

    def delete_group(self, owner: str, name: str) -> None:
        with self._lock:
            self.groups.pop((owner, name), None)
