"""The contract every hypervisor driver passes (mixed into one test class per driver).

A driver's test module subclasses `HypervisorContract` and provides a `hv` fixture returning a
`HypervisorEnv`: how to open a driver instance on the node's state (twice = a restart), a
bootable VM spec, a spec whose start must fail, and, where the driver can, how to make the guest
power itself off.  The class is not collected on its own (its name does not start with Test).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from stratuslab.core.errors import DriverError
from stratuslab.core.hypervisor import NicSpec, Observation, ObservedState, VmHandle, VmSpec
from stratuslab.drivers.hypervisor.base import Hypervisor


@dataclass
class HypervisorEnv:
    open: Callable[[], Hypervisor]  # a driver instance on this node's state (again = restart)
    spec: Callable[[int], VmSpec]  # a VM that boots
    broken_spec: Callable[[int], VmSpec]  # a VM whose start fails in the backend
    #: make the running guest power itself off (None: the driver cannot)
    guest_poweroff: Callable[[Hypervisor, VmHandle], None] | None = None
    #: make the VM's backend die under it, as a crash would (None: the driver cannot)
    crash: Callable[[Hypervisor, VmHandle], None] | None = None
    opened: list[Hypervisor] = field(default_factory=list)

    def driver(self) -> Hypervisor:
        drv = self.open()
        self.opened.append(drv)
        return drv


class EventLog:
    def __init__(self) -> None:
        self.seen: list[Observation] = []
        self.arrived = threading.Event()

    def __call__(self, observation: Observation) -> None:
        self.seen.append(observation)
        self.arrived.set()


def states(drv: Hypervisor) -> dict[int, ObservedState]:
    return {o.vm_id: o.state for o in drv.list_vms()}


class HypervisorContract:
    @pytest.fixture
    def drivers(self, hv: HypervisorEnv) -> Iterator[HypervisorEnv]:
        """The env; every driver opened in the test has its VMs killed and is closed after."""
        yield hv
        for drv in hv.opened:
            for obs in drv.list_vms():
                drv.kill(VmHandle(obs.vm_id, "localhost"))
            drv.close()
        hv.opened.clear()

    def test_start_reports_running_and_lists_the_vm(self, drivers: HypervisorEnv) -> None:
        drv = drivers.driver()
        handle = drv.start(drivers.spec(101))
        assert handle.vm_id == 101
        assert drv.status(handle).state is ObservedState.RUNNING
        assert states(drv) == {101: ObservedState.RUNNING}

    def test_start_twice_runs_one_vm(self, drivers: HypervisorEnv) -> None:
        drv = drivers.driver()
        spec = drivers.spec(102)
        first = drv.start(spec)
        second = drv.start(spec)
        assert first.vm_id == second.vm_id
        assert states(drv) == {102: ObservedState.RUNNING}

    def test_kill_is_idempotent_and_forgets_the_vm(self, drivers: HypervisorEnv) -> None:
        drv = drivers.driver()
        handle = drv.start(drivers.spec(103))
        drv.kill(handle)
        drv.kill(handle)
        assert drv.status(handle).state is ObservedState.MISSING
        assert states(drv) == {}

    def test_unknown_vm_is_missing_and_kill_of_it_is_harmless(self, drivers: HypervisorEnv) -> None:
        drv = drivers.driver()
        ghost = VmHandle(999, "localhost")
        assert drv.status(ghost).state is ObservedState.MISSING
        drv.kill(ghost)
        assert states(drv) == {}

    def test_suspend_then_resume_runs_the_vm_again(self, drivers: HypervisorEnv) -> None:
        drv = drivers.driver()
        spec = drivers.spec(104)
        handle = drv.start(spec)
        handle = drv.suspend(handle)
        assert drv.status(handle).state is ObservedState.SUSPENDED
        assert drv.suspend(handle).vm_id == 104  # suspending a suspended VM is no error
        handle = drv.resume(handle, spec)
        assert drv.status(handle).state is ObservedState.RUNNING

    def test_nic_hot_plug_is_idempotent_and_unknown_macs_detach_quietly(
        self, drivers: HypervisorEnv
    ) -> None:
        drv = drivers.driver()
        handle = drv.start(drivers.spec(110))
        if not drv.capabilities.hotplug_nic:
            with pytest.raises(DriverError, match="cannot hot-plug NICs"):
                drv.attach_nic(handle, NicSpec(mac="02:00:0a:fe:09:98"))
            return
        nic = NicSpec(mac="02:00:0a:fe:09:98")
        device = drv.attach_nic(handle, nic)
        assert device and drv.attach_nic(handle, nic) == device
        drv.detach_nic(handle, "02:00:0a:fe:09:97")  # not plugged: nothing to do
        assert drv.status(handle).state is ObservedState.RUNNING

    def test_reboot_keeps_the_vm_running(self, drivers: HypervisorEnv) -> None:
        drv = drivers.driver()
        handle = drv.start(drivers.spec(105))
        drv.reboot(handle)
        assert drv.status(handle).state is ObservedState.RUNNING

    def test_shutdown_leaves_the_vm_shut_off_and_resume_boots_it(self, drivers: HypervisorEnv) -> None:
        drv = drivers.driver()
        spec = drivers.spec(106)
        handle = drv.start(spec)
        drv.shutdown(handle, timeout=1.0)  # a guest still booting ignores ACPI: hard stop after 1 s
        assert drv.status(handle).state is ObservedState.SHUTOFF
        drv.shutdown(handle, timeout=1.0)
        handle = drv.resume(handle, spec)
        assert drv.status(handle).state is ObservedState.RUNNING

    def test_new_driver_instance_finds_running_and_suspended_vms(self, drivers: HypervisorEnv) -> None:
        first = drivers.driver()
        running = first.start(drivers.spec(107))
        suspended = first.suspend(first.start(drivers.spec(108)))
        first.close()
        again = drivers.driver()
        assert states(again) == {107: ObservedState.RUNNING, 108: ObservedState.SUSPENDED}
        assert again.status(running).state is ObservedState.RUNNING
        again.resume(suspended, drivers.spec(108))
        assert states(again) == {107: ObservedState.RUNNING, 108: ObservedState.RUNNING}

    def test_failed_start_raises_driver_error_and_lists_nothing(self, drivers: HypervisorEnv) -> None:
        drv = drivers.driver()
        with pytest.raises(DriverError) as failure:
            drv.start(drivers.broken_spec(109))
        assert str(failure.value)
        assert states(drv) == {}
        assert drv.status(VmHandle(109, "localhost")).state is ObservedState.MISSING

    def test_console_log_returns_bytes(self, drivers: HypervisorEnv) -> None:
        drv = drivers.driver()
        handle = drv.start(drivers.spec(110))
        assert isinstance(drv.console_log(handle), bytes)

    def test_guest_poweroff_reaches_the_event_sink_as_shutoff(self, drivers: HypervisorEnv) -> None:
        if drivers.guest_poweroff is None:
            pytest.skip("this driver cannot make its guest power off")
        drv = drivers.driver()
        events = EventLog()
        drv.set_event_sink(events)
        handle = drv.start(drivers.spec(111))
        drivers.guest_poweroff(drv, handle)
        assert events.arrived.wait(timeout=60), "no event after the guest powered off"
        assert events.seen[0].vm_id == 111
        assert events.seen[0].state is ObservedState.SHUTOFF
        deadline = time.monotonic() + 5
        while drv.status(handle).state is not ObservedState.SHUTOFF and time.monotonic() < deadline:
            time.sleep(0.05)
        assert drv.status(handle).state is ObservedState.SHUTOFF

    def test_backend_crash_reaches_the_event_sink_as_crashed(self, drivers: HypervisorEnv) -> None:
        if drivers.crash is None:
            pytest.skip("this driver cannot simulate a crash")
        drv = drivers.driver()
        events = EventLog()
        drv.set_event_sink(events)
        handle = drv.start(drivers.spec(112))
        drivers.crash(drv, handle)
        assert events.arrived.wait(timeout=30), "no event after the backend died"
        assert [(o.vm_id, o.state) for o in events.seen] == [(112, ObservedState.CRASHED)]
        assert drv.status(handle).state is ObservedState.CRASHED
