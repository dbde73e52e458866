"""The network half of the OCCI services backend: network resources and networkinterface links.

Works over the NetworkService (`network` of CloudServices).  OCCI ids are the networks' database
ids; a compute's NICs (its leases, vm.spec.networks) are its networkinterface links, with
ids "<vm id>_<nic index>"; creating or deleting one hot-plugs a NIC through the NIC service
(`vm_nics` of CloudServices).
Translation only.  Imports core, services and this package.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from stratuslab.api.occi.backend import LinkRecord, NetworkRecord, NetworkRequest
from stratuslab.core.entities import Principal, Vm
from stratuslab.core.errors import InvalidInput, NotFound, Unsupported
from stratuslab.core.network import Network
from stratuslab.core.states import VmState
from stratuslab.services.catalog import CloudServices
from stratuslab.services.network.service import NetworkService

LISTING = "GET /occi/network/"
#: where a network created without occi.network.address gets its /24
AUTO_SUBNETS = "10.200.0.0/16"


def _record(net: Network) -> NetworkRecord:
    return NetworkRecord(
        id=net.id or 0,
        title=net.name,
        vlan=net.segment_id,
        label=net.address_class.value,
        address=net.subnet,
        gateway=net.gateway,
        allocation="dynamic",
        state="active" if net.enabled else "inactive",
    )


def _hosts_but(subnet: str, gateway: str) -> list[str]:
    """OCCI has no address ranges: every host address of the subnet except the gateway."""
    try:
        net = ipaddress.IPv4Network(subnet, strict=False)
        gw = int(ipaddress.IPv4Address(gateway))
    except ValueError as exc:
        raise InvalidInput(f"network {subnet} / gateway {gateway}: {exc}") from None
    first, last = int(net.network_address) + 1, int(net.broadcast_address) - 1
    parts = [(first, gw - 1), (gw + 1, last)] if first <= gw <= last else [(first, last)]
    return [
        f"{ipaddress.IPv4Address(lo)}-{ipaddress.IPv4Address(hi)}" for lo, hi in parts if lo <= hi
    ]


class NetworkCalls:
    services: CloudServices

    def _service(self) -> NetworkService:
        return self.services.network

    def _networks(self) -> list[Network]:
        nets = [v.network for v in self._service().networks()]
        return sorted(nets, key=lambda n: n.id or 0)

    def _network(self, net_id: int) -> Network:
        for net in self._networks():
            if net.id == net_id:
                return net
        raise NotFound("network", net_id, LISTING)

    def network_name(self, net_id: int) -> str:
        return self._network(net_id).name

    def network_create(self, principal: Principal, request: NetworkRequest) -> int:
        if not request.title:
            raise InvalidInput(
                "a network needs occi.core.title (its name)",
                hint='e.g. occi.core.title="lab" (occi.network.address="10.20.0.0/24" optional)',
            )
        address = request.address or self._free_subnet()
        table: dict[str, Any] = {"subnet": address}
        if request.gateway:
            table["gateway"] = request.gateway
            table["ranges"] = _hosts_but(address, request.gateway)
        if request.vlan is not None:
            table["segment_id"] = request.vlan
        if request.label:
            table["address_class"] = request.label
        made = self._service().create(principal, request.title, table)
        if made.id is not None:
            return int(made.id)
        return next(n.id or 0 for n in self._networks() if n.name == request.title)

    def _free_subnet(self) -> str:
        """No occi.network.address (the ipnetwork mixin is optional): the first /24 of
        AUTO_SUBNETS that overlaps no existing network; the rendering shows which."""
        taken = [ipaddress.IPv4Network(n.subnet, strict=False) for n in self._networks()]
        for candidate in ipaddress.IPv4Network(AUTO_SUBNETS).subnets(new_prefix=24):
            if not any(candidate.overlaps(t) for t in taken):
                return str(candidate)
        raise InvalidInput(f"every /24 of {AUTO_SUBNETS} is in use",
                           hint="give occi.network.address (a CIDR) explicitly")

    def network_get(self, principal: Principal, net_id: int) -> NetworkRecord:
        return _record(self._network(net_id))

    def network_list(self, principal: Principal) -> Sequence[NetworkRecord]:
        return [_record(n) for n in self._networks()]

    def network_action(self, principal: Principal, net_id: int, *, up: bool) -> None:
        """down: the network gives no new leases (computes keep theirs); up: it gives again."""
        self._service().set_enabled(principal, self._network(net_id).name, up)

    def network_delete(self, principal: Principal, net_id: int) -> None:
        self._service().delete(principal, self._network(net_id).name)

    def network_update(
        self,
        principal: Principal,
        net_id: int,
        *,
        title: str | None = None,
        label: str | None = None,
    ) -> None:
        raise Unsupported("renaming or relabelling networks")

    # ---- networkinterface links --------------------------------------------------------------
    def attach_nic(
        self, principal: Principal, vm: Vm, net_id: int, attributes: Mapping[str, Any]
    ) -> str:
        """A new networkinterface: a NIC on the network, hot-plugged (the address given as
        occi.networkinterface.address with allocation static, else the next free one)."""
        nics = self.services.vm_nics
        static = attributes.get("occi.networkinterface.allocation") == "static"
        ip = str(attributes.get("occi.networkinterface.address") or "") if static else ""
        index = len(vm.spec.networks)
        nics.attach(principal, vm, self._network(net_id).name, ip or None)
        return f"{vm.id}_{index}"

    def detach_nic(self, principal: Principal, vm: Vm, index: int) -> None:
        nics = self.services.vm_nics
        if not 0 <= index < len(vm.spec.networks):
            raise NotFound("link", f"{vm.id}_{index}", "GET /occi/link/networkinterface/")
        nics.detach(principal, vm, str(index))

    def nic_links(self, vms: Sequence[Vm]) -> list[LinkRecord]:
        ids = {n.name: n.id or 0 for n in self._networks()}
        links = []
        for vm in vms:
            active = vm.vm_state is VmState.RUNNING
            for index, fact in enumerate(vm.spec.networks):
                if fact.get("network") not in ids or vm.id is None:
                    continue
                attributes = {
                    "occi.networkinterface.interface": f"eth{index}",
                    "occi.networkinterface.mac": fact.get("mac", ""),
                    "occi.networkinterface.state": "active" if active else "inactive",
                    "occi.networkinterface.address": fact.get("ip", ""),
                    "occi.networkinterface.allocation": "dynamic",
                }
                if fact.get("gateway"):
                    attributes["occi.networkinterface.gateway"] = fact["gateway"]
                links.append(
                    LinkRecord(
                        f"{vm.id}_{index}",
                        "networkinterface",
                        vm.id,
                        ids[fact["network"]],
                        attributes,
                    )
                )
        return links
