"""The `qemu` hypervisor driver (entry point `stratuslab.hypervisors: qemu`)."""

from stratuslab.drivers.hypervisor.qemu.driver import QemuHypervisor

__all__ = ["QemuHypervisor"]
