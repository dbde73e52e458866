"""The libvirt hypervisor driver (see `driver`)."""

from stratuslab.drivers.hypervisor.libvirt.driver import LibvirtHypervisor

__all__ = ["LibvirtHypervisor"]
