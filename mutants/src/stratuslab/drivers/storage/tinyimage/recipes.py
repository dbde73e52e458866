"""Image recipes: what goes into a guest image built from Debian packages.  Only stdlib and core."""

from __future__ import annotations

from dataclasses import dataclass

from stratuslab.core.errors import InvalidInput

#: what every recipe's guest needs: disks, CD-ROMs, network, console, file systems, ACPI button
BASE_MODULES: tuple[str, ...] = (
    "virtio_pci",
    "virtio_blk",
    "virtio_net",
    "virtio_scsi",
    "virtio_console",
    "ext4",
    "isofs",
    "sr_mod",
    "sd_mod",
    "ata_piix",  # IDE CD-ROMs of machine pc
    "ahci",  # SATA CD-ROMs of machine q35
    "virtio_mmio",  # the virtio devices of machine microvm
    "button",
    "evdev",  # busybox acpid reads the power button from /dev/input/event*
    "8021q",
)


@dataclass(frozen=True, slots=True)
class Recipe:
    name: str
    kernel_meta_package: str = "linux-image-amd64"
    busybox_package: str = "busybox-static"
    modules: tuple[str, ...] = BASE_MODULES
    #: vmlinux: the uncompressed ELF kernel (QEMU boots it through PVH, seconds faster under
    #: TCG); bzimage: the packaged vmlinuz as it is
    kernel_format: str = "vmlinux"
    root_size_mib: int = 128
    root_label: str = "guestroot"
    cmdline: str = "console=ttyS0 quiet panic=-1"


RECIPES: dict[str, Recipe] = {
    "tiny": Recipe(name="tiny"),
}


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise InvalidInput(
            f"image recipe {name!r} does not exist",
            hint=f"choose one of: {', '.join(sorted(RECIPES))}",
        ) from None
