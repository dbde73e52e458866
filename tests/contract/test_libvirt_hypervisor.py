"""The hypervisor contract, run against the libvirt driver with a real libvirtd (TCG guests).

The libvirtd is the driver's own managed daemon (`ManagedLibvirtd`): it runs in a private mount
namespace with every socket, state, log and configuration file under this module's temporary
directory, and is stopped at the end with no domain left.  As with the qemu driver, most checks
only need QEMU to run; the guest power-off check boots one guest fully.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest
from tests.contract.hypervisor_contract import HypervisorContract, HypervisorEnv
from tests.helpers.vmspecs import guest_poweroff, tiny_specs, wait_ready

from stratuslab.core.hypervisor import DiskSpec, VmHandle
from stratuslab.core.imagebuild import BuiltImage
from stratuslab.drivers.hypervisor.base import Hypervisor
from stratuslab.drivers.hypervisor.guestagent import run_in_guest
from stratuslab.drivers.hypervisor.libvirt import LibvirtHypervisor
from stratuslab.drivers.hypervisor.libvirt.daemon import ManagedLibvirtd

pytestmark = pytest.mark.integration



@pytest.fixture(scope="module")
def libvirtd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedLibvirtd]:
    daemon = ManagedLibvirtd(tmp_path_factory.mktemp("libvirtd"))
    daemon.ensure_running()
    yield daemon
    conn = libvirt.open(daemon.uri)
    try:
        for dom in conn.listAllDomains():
            if dom.isActive():
                dom.destroy()
    finally:
        conn.close()
    daemon.stop()
    assert daemon.pid() is None



@pytest.fixture
def hv(tmp_path: Path, tiny_image: BuiltImage, libvirtd: ManagedLibvirtd) -> HypervisorEnv:
    spec, broken = tiny_specs(tmp_path, tiny_image)

    def crash(drv: Hypervisor, handle: VmHandle) -> None:
        """What a QEMU crash looks like to libvirt: its process dies under it."""
        pid_file = libvirtd.qemu_pid_file(str(handle.data["domain"]))
        os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)

    # each test has its own run directory (its own records), as two nodes would
    return HypervisorEnv(open=lambda: LibvirtHypervisor(tmp_path / "run", uri=libvirtd.uri,
                                                        domain_prefix=f"t{os.getpid()}-"),
                         spec=spec, broken_spec=broken, guest_poweroff=guest_poweroff,
                         crash=crash)


class TestLibvirtHypervisor(HypervisorContract):
    pass


def test_disk_hot_plug_is_seen_by_the_guest_and_survives_suspend(
    hv: HypervisorEnv, libvirtd: ManagedLibvirtd, tmp_path: Path
) -> None:
    """Beyond the contract: a raw volume plugged into a running guest shows up in /sys/block,
    stays plugged across a suspend/resume, and unplugs again."""
    from stratuslab.drivers import _process

    drv = hv.driver()
    spec = hv.spec(120)
    handle = drv.start(spec)
    try:
        wait_ready(drv, handle)
        volume = tmp_path / "vol.raw"
        _process.run(["qemu-img", "create", "-q", "-f", "raw", str(volume), "16M"], timeout=30)
        dev = drv.attach_disk(handle, DiskSpec("vol-x", str(volume), format="raw"))
        assert drv.attach_disk(handle, DiskSpec("vol-x", str(volume), format="raw")) == dev

        def guest_sees(name: str) -> bool:
            rc, out = run_in_guest(str(handle.data["agent_socket"]), "ls /sys/block", timeout=60)
            return rc == 0 and name in out.split()

        deadline = time.monotonic() + 60
        while not guest_sees(dev):
            assert time.monotonic() < deadline, f"the guest never saw {dev}"
            time.sleep(0.5)
        handle = drv.resume(drv.suspend(handle), spec)
        assert guest_sees(dev)
        drv.detach_disk(handle, "vol-x")
        deadline = time.monotonic() + 60
        while guest_sees(dev):
            assert time.monotonic() < deadline, f"the guest still sees {dev}"
            time.sleep(0.5)
    finally:
        drv.kill(handle)
        drv.close()
