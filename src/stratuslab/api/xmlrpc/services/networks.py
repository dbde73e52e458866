"""Virtual networks (the NetworkPort: `one.vn.*`) and the NICs of `one.vm.allocate`.

Works over the NetworkService (`network` of CloudServices); what it cannot do yet raises
Unsupported (0x800).  OpenNebula ids are the networks' database ids; address
ranges are the network's ranges in order (AR_ID = index).  `one.vn.reserve` makes a reservation
of the parent's addresses, which OpenNebula shows as a network of its own: here it is virtual
network RESERVATION_BASE + the reservation's id (its owner's, PARENT_NETWORK_ID the parent, one
AR per reserved address); a NIC on it takes one of the reserved addresses, and deleting it
releases the reservation.  Translation only.  Imports core, services and this package.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from stratuslab.api.xmlrpc import template
from stratuslab.api.xmlrpc.backend import (
    AddressRange,
    NetworkAllocate,
    NetworkRecord,
    NicRequest,
    Reservation,
    Rights,
    merged_rights,
)
from stratuslab.api.xmlrpc.services.common import Deps, owner_names
from stratuslab.core.entities import Principal, Vm
from stratuslab.core.errors import InvalidInput, NotFound, Unsupported
from stratuslab.core.network import Lease, Network
from stratuslab.core.network import Reservation as AddressReservation
from stratuslab.services.network.service import NetworkService

LISTING = "one.vnpool.info"
#: virtual network ids from here on are reservations (one.vn.reserve): 1000000 + reservation id
RESERVATION_BASE = 1_000_000
#: template attributes shown elsewhere than in TEMPLATE (or computed from the network itself)
_NOT_KEPT = frozenset({"NAME", "AR", "LEASES", "NETWORK_ADDRESS", "NETWORK_MASK", "BRIDGE"})
_SIZES = {"A": 8, "B": 16, "C": 24}  # OpenNebula 3.x NETWORK_SIZE class names -> prefix


def _subnet(request: NetworkAllocate) -> str:
    """NETWORK_ADDRESS (with /prefix, or NETWORK_MASK, or 3.x NETWORK_SIZE) -> CIDR."""
    attrs = request.attrs
    address = attrs.get("NETWORK_ADDRESS", "")
    if not address:
        derived = _covering(request)
        if derived is not None:
            return derived
        raise InvalidInput(
            f"network {request.name} has neither NETWORK_ADDRESS nor addresses to derive it from",
            hint='add NETWORK_ADDRESS="10.1.0.0" and NETWORK_MASK="255.255.255.0", or AR/LEASES',
        )
    if "/" not in address:
        size = attrs.get("NETWORK_SIZE", "")
        if attrs.get("NETWORK_MASK"):
            address += "/" + attrs["NETWORK_MASK"]
        elif size.upper() in _SIZES:
            address += f"/{_SIZES[size.upper()]}"
        elif size.isdigit():
            address += f"/{32 - (int(size) + 1).bit_length()}"
        else:
            address += "/24"
    try:
        return str(ipaddress.IPv4Network(address, strict=False))
    except ValueError as exc:
        raise InvalidInput(f"network {request.name}: NETWORK_ADDRESS {address!r}: {exc}") from None


def _covering(request: NetworkAllocate) -> str | None:
    """No NETWORK_ADDRESS (7.x AR templates, 3.2 FIXED LEASES or RANGED IP_START/IP_END): the
    smallest network holding every given address, at least the /24 around them."""
    addresses = []
    for ar in request.ranges:
        if ar.type in ("IP4", "IP4_6") and ar.ip:
            try:
                first = ipaddress.IPv4Address(ar.ip)
            except ValueError:
                raise InvalidInput(f"AR IP {ar.ip!r} is not an IPv4 address") from None
            addresses += [first, first + max(0, ar.size - 1)]
    if not addresses:
        return None
    low, high = min(addresses), max(addresses)
    prefix = 24
    while prefix > 8:
        net = ipaddress.IPv4Network(f"{low}/{prefix}", strict=False)
        if high in net:
            break
        prefix -= 1
    net = ipaddress.IPv4Network(f"{low}/{prefix}", strict=False)
    if int(low) == int(net.network_address) or int(high) == int(net.broadcast_address):
        net = net.supernet()  # keep the given addresses off the network/broadcast address
    return str(net)


def _range_text(ar: AddressRange, subnet: str | None = None) -> str:
    """AR=[TYPE=IP4, IP, SIZE] -> "FIRST-LAST" (clipped to the subnet's host addresses)."""
    if ar.type not in ("IP4", "IP4_6") or not ar.ip:
        raise Unsupported(f"{ar.type} address ranges without an IPv4 IP")
    try:
        first = int(ipaddress.IPv4Address(ar.ip))
    except ValueError:
        raise InvalidInput(f"AR IP {ar.ip!r} is not an IPv4 address") from None
    last = first + ar.size - 1
    if subnet is not None:
        net = ipaddress.IPv4Network(subnet)
        first = max(first, int(net.network_address) + 1)
        last = min(last, int(net.broadcast_address) - 1)
    return f"{ipaddress.IPv4Address(first)}-{ipaddress.IPv4Address(last)}"


def _record(net: Network, used: int) -> NetworkRecord:
    subnet = ipaddress.IPv4Network(net.subnet)
    attrs = {
        "NETWORK_ADDRESS": str(subnet.network_address),
        "NETWORK_MASK": str(subnet.netmask),
        "CLASS": net.address_class.value,
    }
    if net.gateway:
        attrs["GATEWAY"] = net.gateway
    if net.dns:
        attrs["DNS"] = " ".join(net.dns)
    if net.ipv6_prefix:
        attrs["IP6_PREFIX"] = net.ipv6_prefix
    given = template.parse(net.template or "")
    attrs.update({k: v for k, v in given.items if isinstance(v, str) and k not in _NOT_KEPT})
    return NetworkRecord(
        id=net.id or 0,
        name=net.name,
        owner=net.owner,
        group=net.group or "oneadmin",
        bridge=given.get("BRIDGE") or "",
        permissions=net.permissions,
        template=net.template or "",
        vlan_id="" if net.segment_id is None else str(net.segment_id),
        address_ranges=tuple({"TYPE": "IP4", "IP": r.first, "SIZE": r.size} for r in net.ranges),
        used_leases=used,
        attrs=attrs,
    )


def _reservation_record(res: AddressReservation, leases: Sequence[Lease],
                        ids: Mapping[str, int]) -> NetworkRecord:
    """A reservation as OpenNebula shows one: a network of the caller's, one AR per address."""
    assert res.id is not None
    return NetworkRecord(
        id=RESERVATION_BASE + res.id,
        name=res.name or f"{res.network}-reservation-{res.id}",
        owner=res.owner,
        group="users",
        address_ranges=tuple({"TYPE": "IP4", "IP": le.ip, "SIZE": 1} for le in leases),
        used_leases=sum(1 for le in leases if le.vm_id is not None),
        permissions="um-------",
        parent_id=ids[res.network],
        parent=res.network,
    )


class NetworkCalls:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def _service(self) -> NetworkService:
        return self.deps.network

    def _network(self, net_id: int) -> Network:
        if net_id >= RESERVATION_BASE:
            raise Unsupported(f"changing virtual network {net_id}, a reservation (one.vn.reserve)"
                              "; it can be shown, used by NICs and deleted")
        for view in self._service().networks():
            if view.network.id == net_id:
                return view.network
        raise NotFound("virtual network", net_id, LISTING)

    def nic_command(self, principal: Principal, nic: NicRequest) -> dict[str, str]:
        """A NIC of a VM template -> RunInstance.nics entry {"network": name, "ip": address}."""
        wanted: int | str | None = nic.network_id if nic.network_id is not None else nic.network
        if isinstance(wanted, int) and wanted >= RESERVATION_BASE:
            res = self._reservation(principal, wanted)
            return {"network": res.parent, "reservation": str(wanted - RESERVATION_BASE),
                    **({"ip": nic.ip} if nic.ip else {})}
        if wanted is None:
            raise InvalidInput("a NIC needs NETWORK_ID or NETWORK", hint=f"list them: {LISTING}")
        for net in self.list(principal):
            if wanted in (net.id, net.name):
                return {"network": net.name, **({"ip": nic.ip} if nic.ip else {})}
        raise NotFound("virtual network", wanted, LISTING)

    def network_ids(self) -> dict[str, int]:
        return {v.network.name: v.network.id for v in self._service().networks()
                if v.network.id is not None}

    def with_network_ids(self, vm: Vm, ids: Mapping[str, int] | None = None) -> Vm:
        """The VM with its NICs' facts (ip, mac) and NETWORK_ID filled in, for rendering."""
        facts = list(vm.spec.networks)
        if not facts:
            return vm
        ids = self.network_ids() if ids is None else ids
        nics = list(vm.spec.nics)
        merged = []
        for index, fact in enumerate(facts):
            nic = {**(nics[index] if index < len(nics) else {}), **fact}
            nic["network_id"] = ids.get(str(nic.get("network")), -1)
            for key, value in nic.items():
                if isinstance(value, list | tuple):
                    nic[key] = ("," if key == "secgroups" else " ").join(map(str, value))
            merged.append(nic)
        vm.spec = vm.spec.with_(nics=merged)
        return vm

    def list(self, principal: Principal) -> Sequence[NetworkRecord]:
        views = sorted(self._service().networks(principal), key=lambda v: v.network.id or 0)
        ids = {v.network.name: v.network.id or 0 for v in views}
        reserved = [_reservation_record(res, leases, ids) for res, leases
                    in self._service().reservations(principal) if res.network in ids]
        return [_record(v.network, v.usage.leases_used) for v in views] + reserved

    def _reservation(self, principal: Principal, net_id: int) -> NetworkRecord:
        for rec in self.list(principal):
            if rec.id == net_id:
                return rec
        raise NotFound("virtual network", net_id, LISTING)

    def allocate(self, principal: Principal, request: NetworkAllocate) -> int:
        subnet = _subnet(request)
        table: dict[str, Any] = {"subnet": subnet}
        if request.ranges:
            table["ranges"] = [_range_text(ar, subnet) for ar in request.ranges]
        if request.vlan_id:
            if not request.vlan_id.isdigit():
                raise InvalidInput(f"VLAN_ID {request.vlan_id!r} is not a number")
            table["segment_id"] = int(request.vlan_id)
        if request.attrs.get("GATEWAY"):
            table["gateway"] = request.attrs["GATEWAY"]
        if request.attrs.get("DNS"):
            table["dns"] = request.attrs["DNS"].replace(",", " ").split()
        made = self._service().create(principal, request.name, table,
                                      template=request.template_text)
        return int(made.id if made.id is not None else self._by_name(request.name))

    def _by_name(self, name: str) -> int:
        for view in self._service().networks():
            if view.network.name == name and view.network.id is not None:
                return view.network.id
        raise NotFound("virtual network", name, LISTING)

    def chmod(self, principal: Principal, net_id: int, rights: Rights) -> None:
        net = self._network(net_id)
        self._service().share(principal, net.name,
                              permissions=merged_rights(net.permissions, rights))

    def chown(self, principal: Principal, net_id: int, user_id: int, group_id: int) -> None:
        owner, group = owner_names(self.deps, user_id, group_id)
        self._service().share(principal, self._network(net_id).name, owner=owner, group=group)

    def update(self, principal: Principal, net_id: int, text: str) -> None:
        self._service().update_template(principal, self._network(net_id).name, text)

    def delete(self, principal: Principal, net_id: int) -> None:
        if net_id >= RESERVATION_BASE:
            self._reservation(principal, net_id)  # NotFound when not the caller's to see
            self._service().release_reservation(principal, net_id - RESERVATION_BASE)
            return
        self._service().delete(principal, self._network(net_id).name)

    def add_range(self, principal: Principal, net_id: int, ar: AddressRange) -> None:
        net = self._network(net_id)
        self._service().add_range(principal, net.name, _range_text(ar, net.subnet))

    def update_range(self, principal: Principal, net_id: int, ar: AddressRange) -> None:
        raise Unsupported("changing an address range (remove it and add another)")

    def rm_range(self, principal: Principal, net_id: int, ar_id: int) -> None:
        net = self._network(net_id)
        if not 0 <= ar_id < len(net.ranges):
            raise NotFound(f"address range of virtual network {net_id}", ar_id, "one.vn.info")
        self._service().remove_range(principal, net.name, str(net.ranges[ar_id]))

    def hold(self, principal: Principal, net_id: int, address: str) -> None:
        self._service().hold(principal, self._network(net_id).name, _ip(address))

    def release(self, principal: Principal, net_id: int, address: str) -> None:
        self._service().release_hold(principal, self._network(net_id).name, _ip(address))

    def remove_lease(self, principal: Principal, net_id: int, address: str) -> None:
        """3.x rmleases: the single-address range addleases made."""
        ip = _ip(address)
        self._service().remove_range(principal, self._network(net_id).name, f"{ip}-{ip}")

    def reserve(self, principal: Principal, net_id: int, reservation: Reservation) -> int:
        if reservation.ip or reservation.network_id is not None or reservation.ar_id is not None:
            raise Unsupported("reserving given addresses or into an existing reservation")
        made, _leases = self._service().reserve(
            principal, self._network(net_id).name, reservation.size, reservation.name or ""
        )
        assert made.id is not None  # stored
        return RESERVATION_BASE + made.id


def _ip(address: str) -> str:
    try:
        return str(ipaddress.IPv4Address(address))
    except ValueError:
        raise InvalidInput(
            f"{address!r} is not an IPv4 address", hint='give LEASES=[IP="10.1.0.5"]'
        ) from None
