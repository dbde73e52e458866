"""Two real tiny guests (QEMU, TCG) on a bridge-driver network inside a data-plane namespace:
each gets its reserved IPv4 from dnsmasq and its SLAAC IPv6 from router advertisements, and
they ping each other over both."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stratuslab.core.hypervisor import VmHandle, VmSpec
from stratuslab.core.imagebuild import BuiltImage
from stratuslab.core.instance import ContextSpec, PrologRequest
from stratuslab.core.network import Lease, default_rules
from stratuslab.drivers.hypervisor.guestagent import run_in_guest
from stratuslab.drivers.hypervisor.qemu import QemuHypervisor
from stratuslab.drivers.network.bridge import BridgeConfig, BridgeDriver, DataPlaneNamespace
from stratuslab.drivers.storage.instance import FileInstanceStorage
from stratuslab.services.network import Ipam, SegmentPool, create_network, network_from_table
from stratuslab.services.network.memory import InMemoryNetworkRepo

pytestmark = pytest.mark.integration

READY = re.compile(rb"stratuslab-ready hostname=(\S*) ipv4=(\S*) ipv6=(\S*)")
BOOT_TIMEOUT = 180.0
TABLE = {
    "subnet": "10.254.2.0/24",
    "ranges": ["10.254.2.10-10.254.2.20"],
    "gateway": "10.254.2.1",
    "ipv6_prefix": "fd53:7472:6174:2::/64",
    "ipv6_mode": "slaac",
}


@dataclass
class Guest:
    handle: VmHandle
    lease: Lease

    @property
    def agent(self) -> str:
        return str(self.handle.data["agent_socket"])


@pytest.fixture(scope="module")
def guests(netkit, tiny_image: BuiltImage, tmp_path_factory) -> Iterator[dict[int, Guest]]:
    root = Path(tmp_path_factory.mktemp("guestnet"))
    host = netkit.netns("ghost")
    dp = DataPlaneNamespace(f"{host}-dp", host_netns=host)
    netkit.made.append(dp.name)
    dp.create()
    driver = BridgeDriver(BridgeConfig(str(root / "net"), netns=dp.name), uplink=dp)
    hv = QemuHypervisor(root / "run", accel="tcg")
    storage = FileInstanceStorage(str(root / "instances"), str(root / "quarantine"))
    repo = InMemoryNetworkRepo()
    pool = SegmentPool.parse("vxlan", "100-200")
    network = create_network(repo, network_from_table("local", TABLE, pool=pool), pool)
    started: dict[int, Guest] = {}
    try:
        for vm in (1, 2):
            lease = Ipam().acquire(repo, "local", vm_id=vm, owner="alice")
            nic = driver.plug_nic(vm, 0, network, lease, default_rules())
            prepared = storage.prepare(PrologRequest(
                vm_id=vm, name=f"vm{vm}", image_path=tiny_image.path,
                image_format=tiny_image.format, boot=tiny_image_boot(tiny_image),
                context=ContextSpec(instance_id=f"vm-{vm}", hostname=f"vm{vm}")))  # fmt: skip
            spec = VmSpec(vm_id=vm, name=f"vm{vm}", vcpu=1, memory_mib=128,
                          instance_dir=prepared.instance_dir, disks=prepared.disks,
                          boot=prepared.boot, nics=(nic,))  # fmt: skip
            started[vm] = Guest(hv.start(spec), lease)
        yield started
    finally:
        for guest in started.values():
            hv.kill(guest.handle)
        driver.close()
        dp.destroy()


def tiny_image_boot(image: BuiltImage):  # type: ignore[no-untyped-def]
    from stratuslab.core.hypervisor import BootSpec

    return BootSpec(image.kernel, image.initrd, image.cmdline)


def wait_ready(hv_log, timeout: float = BOOT_TIMEOUT) -> re.Match[bytes]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = READY.search(hv_log())
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"no ready line; console:\n{hv_log()[-2000:].decode(errors='replace')}")


def guest_sh(guest: Guest, command: str, timeout: float = 60) -> tuple[int, str]:
    return run_in_guest(guest.agent, command, timeout=timeout)


def test_two_guests_get_their_leases_and_ping_each_other_over_ipv4_and_ipv6(guests):
    for guest in guests.values():
        log = Path(str(guest.handle.data["console_log"]))
        ready = wait_ready(lambda log=log: log.read_bytes() if log.exists() else b"")
        assert ready.group(2).decode() == guest.lease.ip
        # SLAAC may land just after the ready line: wait for it in the guest
        rc, out = guest_sh(guest, f"for i in $(seq 50); do ip -6 addr | grep -q "
                                  f"'{guest.lease.ipv6}/' && exit 0; sleep 0.2; done; exit 1")  # fmt: skip
        assert rc == 0, out
    one, two = guests[1], guests[2]
    for src, dst in ((one, two), (two, one)):
        rc, out = guest_sh(src, f"ping -c 2 -W 2 {dst.lease.ip}")
        assert rc == 0, out
        rc, out = guest_sh(src, f"ping -6 -c 2 -W 2 {dst.lease.ipv6}")
        assert rc == 0, out
