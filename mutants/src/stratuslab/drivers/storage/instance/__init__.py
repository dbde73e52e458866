"""Node-side instance storage: overlays, swap and volatile disks, context media, quarantine.

Imports core and ``stratuslab.drivers._process`` only.
"""

from stratuslab.drivers.storage.instance.storage import MAX_VOLATILE_GB, FileInstanceStorage

__all__ = ["MAX_VOLATILE_GB", "FileInstanceStorage"]
