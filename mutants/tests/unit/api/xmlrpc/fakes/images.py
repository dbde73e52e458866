"""FakeImages: one public ttylinux image (id 3); changes are recorded only (the ImagePort)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.unit.api.xmlrpc.fakes.identity import NOW

from stratuslab.api.xmlrpc.backend import ImageAllocate
from stratuslab.core.entities import Image, Principal
from stratuslab.core.errors import NotFound


class FakeImages:
    def __init__(self, calls: list[tuple[Any, ...]]) -> None:
        self.calls = calls
        self.records = {
            3: Image(
                3,
                "ttylinux",
                "alice",
                "users",
                "/var/lib/stratuslab/images/3.qcow2",
                "qcow2",
                40 << 20,
                "a" * 40,
                public=True,
                created_at=NOW,
            ),
        }

    def get(self, principal: Principal, image_id: int) -> Image:
        if image_id not in self.records:
            raise NotFound("image", image_id)
        return self.records[image_id]

    def list(self, principal: Principal) -> Sequence[Image]:
        return [*self.records.values()]

    def allocate(self, principal: Principal, request: ImageAllocate) -> int:
        self.calls.append(("image_allocate", request))
        return 4

    def delete(self, principal: Principal, image_id: int) -> None:
        self.calls.append(("image_delete", image_id))

    def enable(self, principal: Principal, image_id: int, *, enabled: bool) -> None:
        self.calls.append(("image_enable", image_id, enabled))

    def persistent(self, principal: Principal, image_id: int, *, persistent: bool) -> None:
        self.calls.append(("image_persistent", image_id, persistent))

    def chtype(self, principal: Principal, image_id: int, image_type: str) -> None:
        self.calls.append(("image_chtype", image_id, image_type))
