"""Fixtures for real guests (a pytest plugin loaded by tests/conftest.py).

`tiny_image` builds the tiny guest image once per session (cached across sessions under
$STRATUSLAB_TEST_CACHE, default /var/tmp/stratuslab-test-cache) and returns its BuiltImage:
`kernel`, `initrd`, `cmdline` for a direct kernel boot and `path` (qcow2) as the base of the
root disk.  Concurrent sessions share the cache safely (the builder holds a file lock).
"""

from __future__ import annotations

import os
import shutil
import warnings

import pytest

from stratuslab.core.errors import DriverError
from stratuslab.core.imagebuild import BuiltImage
from stratuslab.drivers.storage.tinyimage import TinyImageBuilder

_NEEDED = ("apt-get", "apt-cache", "dpkg-deb", "mkfs.ext4", "qemu-img", "qemu-system-x86_64")


@pytest.fixture(scope="session")
def tiny_image_builder() -> TinyImageBuilder:
    missing = [tool for tool in _NEEDED if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the tiny image needs {', '.join(missing)} (run scripts/setup.sh)")
    cache = os.environ.get("STRATUSLAB_TEST_CACHE", "/var/tmp/stratuslab-test-cache")
    return TinyImageBuilder(os.path.join(cache, "images"))


@pytest.fixture(scope="session")
def tiny_image(tiny_image_builder: TinyImageBuilder) -> BuiltImage:
    """The tiny guest (kernel, initrd, root qcow2), built from Debian packages once and cached.

    When APT cannot be reached, the newest cached build is used (with a warning) if there is one.
    """
    try:
        return tiny_image_builder.build("tiny")
    except DriverError as exc:
        cached = tiny_image_builder.latest_cached("tiny")
        if cached is None:
            raise
        warnings.warn(f"using the cached tiny image {cached.path}: {exc}", stacklevel=1)
        return cached
