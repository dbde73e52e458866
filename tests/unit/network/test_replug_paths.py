"""Every path that brings a VM back to running re-plugs its NIC (tap, firewall rules, DHCP entry)
through LifecycleExecutor.replug: resume after poweroff, resume after suspend, reboot, reboot of
an `unknown` VM, recover-retry and recover-success of a boot failure, and server start-up.

Over a real SQLite database, the simulated hypervisor and the simulated network driver; each
test first wipes the driver's NICs (a data plane lost underneath the VM) and checks the path
puts the NIC back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.helpers.cloud import drain, make_settings

from stratuslab.bootstrap import Cloud, build_cloud
from stratuslab.core.commands import RunInstance, vm_command
from stratuslab.core.entities import Principal
from stratuslab.drivers.network.simulated import SimulatedNetworkDriver

TAP = "sl{}n0"


def driver(cloud: Cloud) -> SimulatedNetworkDriver:
    d = cloud.features.network.driver
    assert isinstance(d, SimulatedNetworkDriver)
    return d


def wipe(cloud: Cloud) -> None:
    d = driver(cloud)
    d.nics.clear()
    d.rules.clear()
    for hosts in d.dhcp.values():
        hosts.clear()


def plugged(cloud: Cloud, vm_id: int) -> bool:
    d = driver(cloud)
    vm = cloud.compute.get(cloud.identity.check_password("admin", "adminpw"), vm_id)
    return TAP.format(vm_id) in d.nics and vm.mac in d.dhcp.get("public", {})


def running_vm(cloud: Cloud, admin: Principal, tmp_path: Path) -> int:
    f = tmp_path / "disk.raw"
    f.write_bytes(b"\0" * 4096)
    img = cloud.images.register(admin, "base", str(f))
    [(vm, _)] = cloud.compute.run(admin, RunInstance(img.id or 0, name="web"))
    drain(cloud)
    assert cloud.compute.get(admin, vm.id or 0).state == "running"
    assert plugged(cloud, vm.id or 0)
    return vm.id or 0


def act(cloud: Cloud, admin: Principal, vm_id: int, *actions: str) -> str:
    for action in actions:
        cloud.compute.act(admin, vm_command(action, vm_id))
        drain(cloud)
    return cloud.compute.get(admin, vm_id).state


@pytest.mark.parametrize(
    ("before", "back"),
    [
        (("poweroff",), ("resume",)),
        (("suspend",), ("resume",)),
        ((), ("reboot",)),
    ],
)
def test_each_way_back_to_running_replugs_the_nic(
    cloud: Cloud, admin: Principal, tmp_path: Path, before: tuple[str, ...],
    back: tuple[str, ...],
) -> None:  # fmt: skip
    vm_id = running_vm(cloud, admin, tmp_path)
    act(cloud, admin, vm_id, *before)
    wipe(cloud)
    assert act(cloud, admin, vm_id, *back) == "running"
    assert plugged(cloud, vm_id)


def test_reboot_of_an_unknown_vm_boots_it_again_with_its_nic(
    cloud: Cloud, admin: Principal, tmp_path: Path
) -> None:
    vm_id = running_vm(cloud, admin, tmp_path)
    hv: Any = cloud.nodes["localhost"].hypervisor
    hv.set_event_sink(cloud.reconciler.observe)
    hv.simulate_crash(vm_id)
    hv.kill(_handle(cloud, admin, vm_id))
    assert cloud.compute.get(admin, vm_id).state == "unknown"
    wipe(cloud)
    # the state table allows reboot from unknown; the guest's process is gone, so it boots again
    assert act(cloud, admin, vm_id, "reboot") == "running"
    assert plugged(cloud, vm_id)


def _handle(cloud: Cloud, admin: Principal, vm_id: int) -> Any:
    from stratuslab.core.hypervisor import VmHandle

    h = cloud.compute.get(admin, vm_id).spec.handle
    return VmHandle(vm_id, h["host"], h.get("data", {}))


@pytest.mark.parametrize("recover", ["recover-retry", "recover-success"])
def test_recovering_a_boot_failure_replugs_the_nic(
    cloud: Cloud, admin: Principal, tmp_path: Path, recover: str
) -> None:
    vm_id = running_vm(cloud, admin, tmp_path)
    act(cloud, admin, vm_id, "poweroff")
    hv: Any = cloud.nodes["localhost"].hypervisor
    hv.fail["resume"] = "simulated resume failure"
    assert act(cloud, admin, vm_id, "resume") == "boot-failure"
    del hv.fail["resume"]
    if recover == "recover-success":  # an admin says it runs: the guest gets its network
        hv.resume(_handle(cloud, admin, vm_id), _spec(cloud, admin, vm_id))
    wipe(cloud)
    assert act(cloud, admin, vm_id, recover) == "running"
    assert plugged(cloud, vm_id)


def _spec(cloud: Cloud, admin: Principal, vm_id: int) -> Any:
    executor: Any = cloud.runner.default.__self__  # type: ignore[attr-defined]
    return executor._vm_spec(cloud.compute.get(admin, vm_id))


def test_server_start_adopts_running_vms_and_replugs_them(
    cloud: Cloud, admin: Principal, tmp_path: Path
) -> None:
    vm_id = running_vm(cloud, admin, tmp_path)
    cloud.stop()
    again = build_cloud(make_settings(tmp_path))  # a new server: a new (empty) network driver
    assert TAP.format(vm_id) not in driver(again).nics
    again.start()
    try:
        assert plugged(again, vm_id)
    finally:
        again.stop()
