"""Tenant networks with real guests (QEMU, TCG), booted once for the module: alice's a1 and a2 on
her network, bob's b1 on his, each a tiny guest that takes its IPv4 lease by DHCP and its IPv6
address from its gateway's router advertisements.  Same-user guests reach each other, the two
users' guests never (bridge-nf-call-iptables at 0 and at 1, set in the test's data-plane
namespace); a guest sending from an address or a MAC it was not leased is dropped at its tap;
a router connects alice's network to the public class (NAT out over IPv4 and IPv6, a floating
address in).  The data plane and the "host" are namespaces of this test; the guests are driven
through their agent.  (tests/integration/network/test_tenant_isolation.py and
test_tenant_router.py check more cases with veth endpoints, fast.)"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.helpers.vmspecs import tiny_specs, wait_ready

from stratuslab.core.entities import Principal
from stratuslab.core.hypervisor import VmHandle
from stratuslab.core.imagebuild import BuiltImage
from stratuslab.core.network import FloatingIp, Lease, Network, Router, default_rules
from stratuslab.drivers.hypervisor.guestagent import run_in_guest
from stratuslab.drivers.hypervisor.qemu import QemuHypervisor
from stratuslab.drivers.network.bridge import (
    BridgeConfig,
    BridgeDriver,
    DataPlaneNamespace,
    firewall,
)
from stratuslab.services.network import Ipam, SegmentPool, create_network, network_from_table
from stratuslab.services.network.memory import InMemoryNetworkRepo
from stratuslab.services.network.tenancy import tenant_network

pytestmark = pytest.mark.integration

PUBLIC = {"subnet": "10.254.1.0/24", "ranges": ["10.254.1.10-10.254.1.20"],
          "gateway": "10.254.1.1", "ipv6_prefix": "fd53:7472:6174:1::/64",
          "ipv6_mode": "slaac"}  # fmt: skip
PUBLIC_GW6 = "fd53:7472:6174:1::1"
TENANTS = (("alice-net", "alice", "192.168.10.0/24", "fd00:10::/64"),
           ("bob-net", "bob", "192.168.20.0/24", "fd00:20::/64"))  # fmt: skip
GUESTS = (("a1", "alice-net"), ("a2", "alice-net"), ("b1", "bob-net"))
SYSCTLS = ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables",
           "net.bridge.bridge-nf-call-arptables")  # fmt: skip
PORT = 8080  # every guest serves it (busybox nc); its security group lets it in


@dataclass
class Guest:
    handle: VmHandle
    lease: Lease
    tap: str

    def sh(self, command: str, timeout: float = 90) -> tuple[int, str]:
        return run_in_guest(str(self.handle.data["agent_socket"]), command, timeout=timeout)

    def ping(self, address: str, *, tries: int = 5, source: str | None = None) -> bool:
        """One echo per try (each waits up to 2 s), inside the guest; True at the first reply."""
        flags = ("-6 " if ":" in address else "") + (f"-I {source} " if source else "")
        rc, _ = self.sh(f"for i in $(seq {tries}); do ping {flags}-c 1 -W 2 {address} "
                        f">/dev/null && exit 0; done; exit 1")  # fmt: skip
        return rc == 0

    def connects(self, address: str, port: int = PORT) -> bool:
        return self.sh(f"nc -w 3 {address} {port} </dev/null >/dev/null")[0] == 0


@dataclass
class Lab:
    host: str
    dp: str
    driver: BridgeDriver
    networks: dict[str, Network]
    guests: dict[str, Guest]


def who(user: str) -> Principal:
    return Principal(user, 1, ("users",), frozenset({"user"}))


@pytest.fixture(scope="module")
def lab(netkit, tiny_image: BuiltImage, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[Lab]:  # fmt: skip
    root = Path(tmp_path_factory.mktemp("tenantguests"))
    host = netkit.netns("host")
    dp = DataPlaneNamespace(f"{host}-dp", host_netns=host)
    netkit.made.append(dp.name)
    dp.create()
    driver = BridgeDriver(BridgeConfig(str(root / "net"), netns=dp.name), uplink=dp)
    hv = QemuHypervisor(root / "run", accel="tcg")
    spec, _ = tiny_specs(root, tiny_image)
    repo, pool, ipam = InMemoryNetworkRepo(), SegmentPool.parse("vxlan", "100-200"), Ipam()
    nets = {"public": create_network(repo, network_from_table("public", PUBLIC, pool=pool), pool)}
    for name, user, subnet, prefix in TENANTS:
        made = tenant_network(who(user), name, {"subnet": subnet, "ipv6_prefix": prefix,
                                                "ipv6_mode": "slaac"},
                              pool=pool, others=repo.list_networks(), quota=3)  # fmt: skip
        nets[name] = create_network(repo, made, pool)
    guests: dict[str, Guest] = {}
    try:
        for vm, (name, net) in enumerate(GUESTS, start=1):
            lease = ipam.acquire(repo, net, vm_id=vm, owner=nets[net].owner)
            nic = driver.plug_nic(vm, 0, nets[net], lease, default_rules(inbound_ports=[PORT]))
            handle = hv.start(dataclasses.replace(spec(vm), nics=(nic,)))
            guests[name] = Guest(handle, lease, str(nic.tap))
        for guest in guests.values():  # they boot side by side
            wait_ready(hv, guest.handle)
            rc, out = guest.sh(  # DHCP and SLAAC may land just after the ready line
                f"for i in $(seq 100); do ip addr | grep -q ' {guest.lease.ip}/' && "
                f"ip -6 addr | grep -q ' {guest.lease.ipv6}/' && exit 0; sleep 0.2; done; "
                "ip addr; exit 1")  # fmt: skip
            assert rc == 0, out
            rc, out = guest.sh(f"setsid nc -ll -p {PORT} -e /bin/true </dev/null >/dev/null 2>&1 &"
                               f" for i in $(seq 100); do netstat -ltn | grep -q ':{PORT} ' && "
                               "exit 0; sleep 0.1; done; netstat -ltn; exit 1")  # fmt: skip
            assert rc == 0, out
        yield Lab(host, dp.name, driver, nets, guests)
    finally:
        for guest in guests.values():
            hv.kill(guest.handle)
        driver.shutdown()


@pytest.mark.parametrize("br_netfilter", [0, 1])
def test_same_user_guests_reach_each_other_and_the_other_users_never(
    lab: Lab, netkit, br_netfilter: int
) -> None:
    netkit.run(lab.dp, "sysctl", "-q", "-w", *(f"{s}={br_netfilter}" for s in SYSCTLS))
    a1, a2, b1 = (lab.guests[n] for n in ("a1", "a2", "b1"))
    # alice's two guests: IPv4, IPv6, TCP; each guest reaches its own gateway
    assert a1.ping(a2.lease.ip) and a2.ping(a1.lease.ip)
    assert a1.ping(str(a2.lease.ipv6)) and a1.connects(a2.lease.ip)
    assert a1.ping("192.168.10.1") and b1.ping("192.168.20.1") and b1.ping("fd00:20::1")
    # across users: nothing, in either direction, over either family, nor from the host
    for src, dst in ((a1, b1), (b1, a1), (b1, a2)):
        assert not src.ping(dst.lease.ip, tries=2), f"{src.lease.ip} reached {dst.lease.ip}"
        assert not src.ping(str(dst.lease.ipv6), tries=2)
        assert not src.connects(dst.lease.ip)
    assert not netkit.ping(lab.host, a1.lease.ip, tries=2)
    assert not netkit.tcp_connects(lab.host, b1.lease.ip, PORT)


def test_a_guest_sending_from_an_address_or_mac_it_was_not_leased_is_dropped(
    lab: Lab,
) -> None:
    a1, a2 = lab.guests["a1"], lab.guests["a2"]

    def drops() -> int:
        return firewall.counters(a1.tap, netns=lab.dp)["from"]

    before = drops()
    assert a1.sh("ip addr add 192.168.10.99/24 dev eth0")[0] == 0
    try:
        assert not a1.ping(a2.lease.ip, source="192.168.10.99", tries=2)
    finally:
        a1.sh("ip addr del 192.168.10.99/24 dev eth0")
    assert drops() > before
    before = drops()
    rc, out = a1.sh("ip link set eth0 address 02:00:de:ad:be:ef && ip neigh flush dev eth0")
    assert rc == 0, out
    try:
        assert not a1.ping(a2.lease.ip, tries=2)
    finally:
        a1.sh(f"ip link set eth0 address {a1.lease.mac} && ip neigh flush dev eth0")
    assert drops() > before
    assert a1.ping(a2.lease.ip) and a2.ping(a1.lease.ip)  # its own addresses still work


def test_a_router_connects_alices_network_to_the_public_class_and_only_hers(
    lab: Lab, netkit
) -> None:
    a1, b1 = lab.guests["a1"], lab.guests["b1"]
    mine, public = lab.networks["alice-net"], lab.networks["public"]
    assert not a1.ping("10.254.1.1", tries=2) and not a1.ping(PUBLIC_GW6, tries=2)
    routed = dataclasses.replace(mine, router=Router(
        public, "10.254.1.15", floating=(FloatingIp("10.254.1.16", a1.lease.ip),)))  # fmt: skip
    lab.driver.ensure_segment(routed)
    try:
        assert a1.ping("10.254.1.1") and a1.ping(PUBLIC_GW6, tries=10)  # out through NAT
        assert netkit.tcp_connects(lab.host, "10.254.1.16", PORT)  # in through the floating
        assert not netkit.ping(lab.host, a1.lease.ip, tries=2)  # the private address stays so
        assert not b1.ping("10.254.1.1", tries=2)  # bob's network has no way out
        assert not b1.ping(a1.lease.ip, tries=2) and not b1.ping("10.254.1.16", tries=2)
    finally:
        lab.driver.ensure_segment(mine)  # router removed
    assert not a1.ping("10.254.1.1", tries=2)
    assert not netkit.tcp_connects(lab.host, "10.254.1.16", PORT)
