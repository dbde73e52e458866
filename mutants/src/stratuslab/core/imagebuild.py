"""Building bootable guest images from a named recipe (e.g. ``tiny``): the port and its result.

Services (``ImageService.build``) call an `ImageBuilderPort`; a storage driver implements it.
Only the standard library.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

#: progress(step description, fraction done in [0, 1])
ProgressFn = Callable[[str, float], None]


@dataclass(frozen=True, slots=True)
class BuiltImage:
    """A built image on the local disk, ready to be registered.

    `path` is the root disk; `kernel`, `initrd` and `cmdline` are what the hypervisor passes for a
    direct kernel boot (None for an image that boots through its own boot loader).
    """

    path: str
    format: str  # qcow2 | raw
    size_bytes: int
    sha1: str  # of the file at `path`
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None


class ImageBuilderPort(Protocol):
    """Makes (or returns from its cache) the image a recipe describes."""

    def build(self, recipe: str, *, progress: ProgressFn | None = None) -> BuiltImage: ...
