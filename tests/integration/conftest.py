"""Shared fixtures for integration tests (real QEMU, namespaces, tgt...).

`tiny_image` builds the tiny guest image once per session (cached across sessions under
$STRATUSLAB_TEST_CACHE, default /var/tmp/stratuslab-test-cache) and returns its BuiltImage.
"""

from __future__ import annotations

import os
import shutil

import pytest

from stratuslab.core.imagebuild import BuiltImage

_NEEDED = ("apt-get", "apt-cache", "dpkg-deb", "mkfs.ext4", "qemu-img", "qemu-system-x86_64")


def test_cache_dir() -> str:
    return os.environ.get("STRATUSLAB_TEST_CACHE", "/var/tmp/stratuslab-test-cache")


test_cache_dir.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.fixture(scope="session")
def tiny_image() -> BuiltImage:
    """The tiny guest (kernel, initrd, root qcow2), built from Debian packages once and cached."""
    missing = [tool for tool in _NEEDED if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the tiny image needs {', '.join(missing)} (run scripts/setup.sh)")
    from stratuslab.drivers.storage.tinyimage import TinyImageBuilder

    return TinyImageBuilder(os.path.join(test_cache_dir(), "images")).build("tiny")
