"""The slice of the cloud's unit of work that storage needs, and typed access to its two
repositories, which the feature registers by name (`uow.repo("volumes")`,
`uow.repo("storage_quotas")`) as the lead's persistence lets features do.

Imports `core` only.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol, Self, cast

from stratuslab.core.volumes import StorageQuotaRepo, VolumeRepo

VOLUMES_REPO = "volumes"
STORAGE_QUOTAS_REPO = "storage_quotas"


class VolumeUnitOfWork(Protocol):
    """One transaction: commit on explicit `commit()`, roll back on exit otherwise."""

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...
    def repo(self, name: str) -> Any: ...


def volumes(uow: VolumeUnitOfWork) -> VolumeRepo:
    return cast(VolumeRepo, uow.repo(VOLUMES_REPO))


def quotas(uow: VolumeUnitOfWork) -> StorageQuotaRepo:
    return cast(StorageQuotaRepo, uow.repo(STORAGE_QUOTAS_REPO))
