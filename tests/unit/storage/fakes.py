"""Fakes shared by the storage unit tests: a fixed clock and a recording volume backend."""

from __future__ import annotations

from datetime import UTC, datetime

from stratuslab.core.errors import DriverError
from stratuslab.core.volumes import BackendCaps, BackendVolume, ParentFile


class FixedClock:
    def now(self) -> datetime:
        return datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


class RecordingBackend:
    """Fake backend: records every call and what it received; fails on request."""

    name = "recording"
    capabilities = BackendCaps(real=False)

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.fail: set[str] = set()
        self.exported: set[str] = set()

    def _call(self, *args: str) -> None:
        self.calls.append(args)
        if args[0] in self.fail:
            raise DriverError(f"{args[0]} failed: disk full")

    def create(self, uuid: str, size_gb: int, parent: ParentFile | None = None) -> str:
        if parent is None:
            self._call("create", uuid, str(size_gb), "None")
        else:  # the format is always passed with the parent
            self._call("create", uuid, str(size_gb), parent.path, parent.format)
        return f"/pool/{uuid}.qcow2"

    def delete(self, uuid: str) -> None:
        self._call("delete", uuid)

    def export(self, uuid: str) -> str:
        self._call("export", uuid)
        self.exported.add(uuid)
        return f"iscsi://127.0.0.1:3260/iqn.2026-11.org.stratuslab:{uuid}/1"

    def unexport(self, uuid: str) -> None:
        self._call("unexport", uuid)
        self.exported.discard(uuid)

    def list(self) -> list[BackendVolume]:
        return []

    def credentials(self, uuid: str) -> None:
        return None

    def source_format(self, uuid: str) -> str:
        return "raw"
