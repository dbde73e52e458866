"""IP address management: leases for VM NICs, holds, user reservations and pool usage.

Pure logic over a NetworkRepo that belongs to the caller's unit of work, so a lease is taken or
released in the same transaction as the VM state change.  The repository refuses a duplicate
(network, ip) lease; IPAM treats that refusal as "someone else won the race" and tries the next
free address.  Imports core only.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass

from stratuslab.core.errors import (
    Conflict,
    InvalidInput,
    InvalidState,
    NotFound,
    QuotaExceeded,
)
from stratuslab.core.network import Lease, Network, Reservation, ipv6_for, mac_for
from stratuslab.services.network.definitions import get_network
from stratuslab.services.network.repository import NetworkRepo


@dataclass(frozen=True, slots=True)
class NetworkUsage:
    network: str
    size: int
    leases_used: int  # leases held by VMs or reservations
    held: int
    reserved_free: int  # reserved addresses no VM uses yet

    @property
    def free(self) -> int:
        return self.size - self.leases_used - self.held


def lease_message(lease: Lease, *, acquired: bool) -> str:
    """The VM event-log line, worded as StratusLab's patched OpenNebula logged it."""
    verb = "acquired" if acquired else "released"
    v6 = f", IP6={lease.ipv6}" if lease.ipv6 else ""
    return f"{verb} lease (NETWORK={lease.network}, IP={lease.ip}{v6}, MAC={lease.mac})"


def check_up(network: Network) -> None:
    """A down network (enabled=False) gives no new leases; the ones it gave stay."""
    if not network.enabled:
        raise InvalidState(
            what="network", name=network.name, state="down", action="give new addresses",
            allowed="up", hint="choose another network, or an administrator brings it up "
            "(OCCI action up on /occi/network/ID)",
        )


class Ipam:
    def __init__(self, *, max_races: int = 64) -> None:
        self._max_races = max_races

    # --- VM leases -------------------------------------------------------------------------

    def acquire(
        self,
        repo: NetworkRepo,
        network_name: str,
        *,
        vm_id: int,
        owner: str,
        nic_index: int = 0,
        ip: str | None = None,
        reservation_id: int | None = None,
        quota: int | None = None,
    ) -> Lease:
        """A lease for NIC `nic_index` of VM `vm_id`: the requested address, one of the caller's
        reservation, or the first free address of the network."""
        network = get_network(repo, network_name)
        check_up(network)
        if reservation_id is not None:
            return self._from_reservation(
                repo, network, reservation_id, vm_id, owner, nic_index, ip
            )
        if ip is not None:
            reserved = self._check_requested(repo, network, ip, owner)
            if reserved is not None:
                lease = dataclasses.replace(reserved, vm_id=vm_id, nic_index=nic_index)
                repo.update_lease(lease)
                return lease
        self._check_quota(repo, owner, 1, quota)
        if ip is not None:
            lease = self._lease(network, ip, vm_id=vm_id, owner=owner, nic_index=nic_index)
            repo.add_lease(lease)  # Conflict propagates: the address was taken meanwhile
            return lease
        return self._first_free(repo, network, vm_id=vm_id, owner=owner, nic_index=nic_index)

    def release_vm(self, repo: NetworkRepo, vm_id: int) -> list[Lease]:
        """Release every lease of the VM (idempotent: a second call releases nothing).  A lease
        taken from a reservation goes back to the reservation, the others back to the pool."""
        released = []
        for lease in repo.leases_for_vm(vm_id):
            if lease.reservation_id is not None and repo.get_reservation(lease.reservation_id):
                repo.update_lease(dataclasses.replace(lease, vm_id=None, nic_index=0))
            else:
                repo.delete_lease(lease.network, lease.ip)
            released.append(lease)
        return released

    # --- reservations ----------------------------------------------------------------------

    def reserve(
        self,
        repo: NetworkRepo,
        network_name: str,
        *,
        owner: str,
        count: int,
        quota: int | None = None,
        name: str = "",
    ) -> tuple[Reservation, list[Lease]]:
        network = get_network(repo, network_name)
        check_up(network)
        if count < 1:
            raise InvalidInput(f"cannot reserve {count} addresses", hint="ask for at least 1")
        if count > network.size:
            raise InvalidInput(
                f"network {network.name} has {network.size} addresses in all; "
                f"cannot reserve {count}",
                hint=f"ask for at most {network.size}, or add a range to the network",
            )
        usage = self.usage(repo, network.name)
        if count > usage.free:
            raise Conflict(
                f"network {network.name} has {usage.free} free addresses of {network.size}; "
                f"cannot reserve {count}",
                hint=f"ask for at most {usage.free}, or use another network: stratus network list",
            )
        self._check_quota(repo, owner, count, quota)
        res = repo.add_reservation(Reservation(None, network.name, owner, count, name))
        assert res.id is not None
        leases = [
            self._first_free(repo, network, vm_id=None, owner=owner, reservation_id=res.id)
            for _ in range(count)
        ]
        return res, leases

    def release_reservation(self, repo: NetworkRepo, reservation_id: int, owner: str) -> None:
        res = self._reservation(repo, reservation_id, owner)
        leases = repo.leases_for_reservation(reservation_id)
        busy = sorted(le.vm_id for le in leases if le.vm_id is not None)
        if busy:
            raise Conflict(
                f"reservation {reservation_id} on network {res.network} is in use by VM "
                f"{', '.join(map(str, busy))}",
                hint="kill those VMs first: stratus kill-instance " + " ".join(map(str, busy)),
            )
        for le in leases:
            repo.delete_lease(le.network, le.ip)
        repo.delete_reservation(reservation_id)

    # --- holds and usage -------------------------------------------------------------------

    def hold(self, repo: NetworkRepo, network_name: str, ip: str, reason: str = "") -> None:
        from stratuslab.core.network import Hold

        network = get_network(repo, network_name)
        self._check_in_ranges(network, ip)
        lease = repo.get_lease(network.name, ip)
        if lease is not None:
            raise Conflict(
                f"address {ip} of network {network.name} is leased"
                + (f" to VM {lease.vm_id}" if lease.vm_id is not None else " by a reservation"),
                hint="hold it after the lease is released",
            )
        repo.add_hold(Hold(network.name, ip, reason))

    def release_hold(self, repo: NetworkRepo, network_name: str, ip: str) -> None:
        if not repo.delete_hold(network_name, ip):
            raise NotFound(
                "hold of address", f"{ip} on network {network_name}", "stratus network show"
            )

    def usage(self, repo: NetworkRepo, network_name: str) -> NetworkUsage:
        network = get_network(repo, network_name)
        leases = repo.leases(network.name)
        held = [h for h in repo.holds(network.name) if network.in_ranges(h.ip)]
        return NetworkUsage(
            network=network.name,
            size=network.size,
            leases_used=len(leases),
            held=len(held),
            reserved_free=sum(1 for le in leases if le.reservation_id and le.vm_id is None),
        )

    # --- internals -------------------------------------------------------------------------

    @staticmethod
    def _lease(network: Network, ip: str, **fields: object) -> Lease:
        mac = mac_for(network.mac_prefix, ip)
        return Lease(network.name, ip, mac, ipv6_for(network, ip, mac), **fields)  # type: ignore[arg-type]

    def _first_free(self, repo: NetworkRepo, network: Network, **fields: object) -> Lease:
        races = 0
        taken = {le.ip for le in repo.leases(network.name)}
        taken |= {h.ip for h in repo.holds(network.name)}
        for r in network.ranges:
            for n in range(r.first_int, r.last_int + 1):
                ip = str(ipaddress.IPv4Address(n))
                if ip in taken:
                    continue
                lease = self._lease(network, ip, **fields)
                try:
                    repo.add_lease(lease)
                except Conflict:
                    races += 1
                    if races > self._max_races:
                        raise
                    continue
                return lease
        usage = self.usage(repo, network.name)
        raise Conflict(
            f"network {network.name} has no free address ({usage.size} in all: "
            f"{usage.leases_used} leased, {usage.held} held)",
            hint="release a reservation or kill unused VMs, or use another network: "
            "stratus network list",
        )

    @staticmethod
    def _check_in_ranges(network: Network, ip: str) -> None:
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            raise InvalidInput(f"{ip!r} is not an IPv4 address") from None
        if not network.in_ranges(ip):
            ranges = ", ".join(str(r) for r in network.ranges)
            raise InvalidInput(
                f"address {ip} is outside every range of network {network.name} ({ranges})",
                hint="ask for an address inside one of these ranges, or omit it to get a free one",
            )

    def _check_requested(
        self, repo: NetworkRepo, network: Network, ip: str, owner: str
    ) -> Lease | None:
        """Refuse an address that cannot be leased; return the caller's reserved lease of it."""
        self._check_in_ranges(network, ip)
        held = [h for h in repo.holds(network.name) if h.ip == ip]
        if held:
            why = f" ({held[0].reason})" if held[0].reason else ""
            raise Conflict(
                f"address {ip} of network {network.name} is on hold{why}",
                hint="ask for another address, or omit it to get a free one",
            )
        lease = repo.get_lease(network.name, ip)
        if lease is None:
            return None
        if lease.reservation_id is not None and lease.vm_id is None and lease.owner == owner:
            return lease
        who = f"VM {lease.vm_id}" if lease.vm_id is not None else "another user's reservation"
        raise Conflict(
            f"address {ip} of network {network.name} is already leased to {who}",
            hint="ask for another address, or omit it to get a free one",
        )

    @staticmethod
    def _check_quota(repo: NetworkRepo, owner: str, count: int, quota: int | None) -> None:
        if quota is None:
            return
        used = repo.count_leases(owner)
        if used + count > quota:
            raise QuotaExceeded(
                f"user {owner} holds {used} leases of a quota of {quota}; cannot take {count} more",
                hint="release a reservation or kill a VM, or ask the administrator for more",
            )

    @staticmethod
    def _reservation(repo: NetworkRepo, reservation_id: int, owner: str) -> Reservation:
        res = repo.get_reservation(reservation_id)
        if res is None or res.owner != owner:  # another user's: not found, as everywhere
            raise NotFound("reservation", reservation_id, "stratus reservation list")
        return res

    def _from_reservation(
        self,
        repo: NetworkRepo,
        network: Network,
        reservation_id: int,
        vm_id: int,
        owner: str,
        nic_index: int,
        ip: str | None,
    ) -> Lease:
        res = self._reservation(repo, reservation_id, owner)
        if res.network != network.name:
            raise InvalidInput(
                f"reservation {reservation_id} is on network {res.network}, not {network.name}",
                hint=f"launch on network {res.network}",
            )
        for lease in sorted(repo.leases_for_reservation(reservation_id), key=lambda le: le.ip):
            if lease.vm_id is None and (ip is None or lease.ip == ip):
                taken = dataclasses.replace(lease, vm_id=vm_id, nic_index=nic_index)
                repo.update_lease(taken)
                return taken
        raise Conflict(
            f"reservation {reservation_id} on network {network.name} has no free address"
            + (f" {ip}" if ip else ""),
            hint="kill a VM that uses it, or reserve more: stratus network reserve",
        )
