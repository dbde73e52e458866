"""The data plane outlives the driver that made it (a server stop), and two clouds on one host
keep their own host routes.  Endpoints are namespaces holding a NIC's veth peer; the "host" is
a namespace of the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratuslab.core.network import default_rules
from stratuslab.drivers.network.bridge import BridgeConfig, BridgeDriver, DataPlaneNamespace, links
from stratuslab.services.network import Ipam, SegmentPool, create_network, network_from_table
from stratuslab.services.network.memory import InMemoryNetworkRepo

pytestmark = pytest.mark.integration

TABLE = {"subnet": "10.254.1.0/24", "ranges": ["10.254.1.10-10.254.1.20"],
         "gateway": "10.254.1.1"}  # fmt: skip


def test_a_detached_driver_leaves_nic_and_dhcp_serving_and_a_new_one_adopts_them(
    netkit, tmp_path: Path
) -> None:
    host = netkit.netns("host")
    dp = DataPlaneNamespace(f"{host}-dp", host_netns=host)
    netkit.made.append(dp.name)
    dp.create()
    config = BridgeConfig(str(tmp_path), netns=dp.name, endpoint="veth")
    first = BridgeDriver(config, uplink=dp)
    repo, pool = InMemoryNetworkRepo(), SegmentPool.parse("vxlan", "100-200")
    network = create_network(repo, network_from_table("public", TABLE, pool=pool), pool)
    lease = Ipam().acquire(repo, "public", vm_id=1, owner="alice")
    nic = first.plug_nic(1, 0, network, lease, default_rules())
    ep = netkit.netns("vm1")
    netkit.attach(f"{nic.tap}p", from_ns=dp.name, ns=ep)
    assert netkit.dhcp(ep) == lease.ip
    pid = (tmp_path / "dnsmasq" / "public" / "pid").read_text().strip()

    first.detach()  # what a server stop does now: nothing of the data plane goes away
    assert Path(f"/proc/{pid}").exists()
    assert netkit.ping(ep, "10.254.1.1")
    assert netkit.ping(host, lease.ip)  # the host route stays too

    second = BridgeDriver(config, uplink=dp)  # the next server
    second.plug_nic(1, 0, network, lease, default_rules())  # re-plug: idempotent, adopts
    assert (tmp_path / "dnsmasq" / "public" / "pid").read_text().strip() == pid
    assert second.dhcp_hosts(network) == [f"{lease.mac},{lease.ip},vm-1"]
    netkit.run(ep, "ip", "-4", "addr", "flush", "dev", "eth0")
    assert netkit.dhcp(ep) == lease.ip  # the adopted dnsmasq still answers
    assert netkit.ping(ep, "10.254.1.1")
    second.shutdown()
    assert not Path(f"/proc/{pid}").exists() or b"dnsmasq" not in Path(
        f"/proc/{pid}/cmdline").read_bytes()  # fmt: skip


def test_two_clouds_on_one_host_keep_their_own_routes(netkit) -> None:
    host = netkit.netns("host")
    subnet = TABLE["subnet"]
    network = network_from_table("public", {**TABLE, "segment_id": 5},
                                 pool=SegmentPool.parse("vxlan", "1-10"))  # fmt: skip
    clouds = []
    for i, net in enumerate(("169.254.10.0/30", "169.254.11.0/30")):
        dp = DataPlaneNamespace(f"{host}-c{i}", host_netns=host, link_net=net,
                                link_net6=f"fd53:7472:6174:fe0{i}::/64")  # fmt: skip
        netkit.made.append(dp.name)
        dp.create()
        dp.route(network)
        clouds.append(dp)
    a, b = clouds
    assert links.routes_to(subnet, netns=host) == sorted(
        [(a.host_if, a.metric), (b.host_if, b.metric)]
    )
    a.unroute(network)  # a cloud removes its own route only
    assert links.routes_to(subnet, netns=host) == [(b.host_if, b.metric)]
    a.unroute(network)  # twice: harmless, and still not b's
    assert links.routes_to(subnet, netns=host) == [(b.host_if, b.metric)]
    b.destroy()
    a.destroy()
    assert links.routes_to(subnet, netns=host) == []
