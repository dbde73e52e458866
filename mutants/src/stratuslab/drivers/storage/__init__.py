"""Storage drivers: the image store, instance disks, volumes."""
