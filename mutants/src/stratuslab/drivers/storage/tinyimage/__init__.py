"""The tiny guest image: a kernel, an initramfs and an ext4 root disk made from Debian packages.

Its init (package data ``guest-*.sh``) honours the NoCloud seed and the OpenNebula context CD,
runs a test agent on the virtio-serial port ``agent.0`` and prints one ``stratuslab-ready`` line
on the serial console.  Imports core and ``stratuslab.drivers._process`` only.
"""

from stratuslab.drivers.storage.tinyimage.builder import TinyImageBuilder
from stratuslab.drivers.storage.tinyimage.recipes import RECIPES, Recipe

__all__ = ["RECIPES", "Recipe", "TinyImageBuilder"]
