"""Ports: what services need from the outside world, as typing.Protocol.

Repositories and the unit of work (persistence implements them), clocks, password hashing and the
image store.  Only the standard library.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Protocol, Self

from stratuslab.core.entities import Group, Image, Job, User, Vm, VmEvent


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Page:
    offset: int = 0
    limit: int = 100


@dataclass(frozen=True, slots=True)
class VmFilter:
    owner: str | None = None
    states: tuple[str, ...] = ()
    name: str | None = None
    include_done: bool = False


class UserRepo(Protocol):
    def add(self, user: User) -> User: ...
    def get(self, user_id: int) -> User | None: ...
    def by_name(self, name: str) -> User | None: ...
    def by_dn(self, dn: str) -> User | None: ...
    def list(self) -> list[User]: ...
    def update(self, user: User) -> None: ...
    def delete(self, user_id: int) -> None: ...


class GroupRepo(Protocol):
    def add(self, group: Group) -> Group: ...
    def by_name(self, name: str) -> Group | None: ...
    def get(self, group_id: int) -> Group | None: ...
    def list(self) -> list[Group]: ...
    def delete(self, group_id: int) -> None: ...


class ImageRepo(Protocol):
    def add(self, image: Image) -> Image: ...
    def get(self, image_id: int) -> Image | None: ...
    def list(self, owner: str | None = None) -> list[Image]: ...
    def update(self, image: Image) -> None: ...


class VmRepo(Protocol):
    def add(self, vm: Vm) -> Vm: ...
    def get(self, vm_id: int) -> Vm | None: ...
    def list(self, flt: VmFilter, page: Page) -> list[Vm]: ...
    def count(self, flt: VmFilter) -> int: ...
    def cas_state(self, vm_id: int, expected: str, new: str, **changes: Any) -> bool:
        """UPDATE ... WHERE state = :expected; False when someone else moved it first."""
        ...

    def update(self, vm: Vm) -> None: ...


class JobRepo(Protocol):
    def add(self, job: Job) -> Job: ...
    def get(self, job_id: int) -> Job | None: ...
    def list(self, owner: str | None, vm_id: int | None, page: Page, *,
             before: int | None = None) -> list[Job]:
        """Newest first; `before`: only jobs with a smaller id (the marker of the next page)."""
        ...

    def claim_next(
        self, runner: str, now: datetime, stale_before: datetime,
        retry_delay: Callable[[int], timedelta] | None = None, *,
        hosts: Collection[str] | None = None,
    ) -> Job | None:
        """Take the oldest queued job, or a running one whose runner stopped heart-beating —
        and, with `retry_delay`, whose heartbeat is older than `stale_before` minus
        `retry_delay(attempts so far)` (backoff between attempts that keep being interrupted).
        With `hosts`, a VM's job only when the VM is on one of them or not placed yet: the
        front end that serves a node runs the jobs of its VMs."""
        ...

    def update(self, job: Job) -> None: ...
    def heartbeat(self, runner: str, job_ids: builtins.list[int], now: datetime) -> None: ...
    def active_for_vm(self, vm_id: int) -> Job | None: ...


class EventRepo(Protocol):
    def add(self, event: VmEvent) -> None: ...
    def for_vm(self, vm_id: int) -> list[VmEvent]: ...


class TokenRepo(Protocol):
    def add(self, token_hash: str, user_id: int, expires_at: datetime) -> None: ...
    def user_for(self, token_hash: str, now: datetime) -> int | None: ...
    def listing(self, user_id: int | None, now: datetime) -> list[tuple[str, int, datetime]]: ...
    def delete(self, token_hash: str) -> None: ...
    def purge_expired(self, now: datetime) -> None: ...


class IdempotencyRepo(Protocol):
    def get(self, owner: str, key: str) -> dict[str, Any] | None: ...
    def put(self, owner: str, key: str, result: dict[str, Any], at: datetime) -> None: ...


class UnitOfWork(Protocol):
    """One transaction: commit on explicit `commit()`, roll back on exit otherwise."""

    users: UserRepo
    groups: GroupRepo
    images: ImageRepo
    vms: VmRepo
    jobs: JobRepo
    events: EventRepo
    tokens: TokenRepo
    idempotency: IdempotencyRepo

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...
    def repo(self, name: str) -> Any:
        """A repository a feature registered (e.g. "leases", "volumes"), in this transaction."""
        ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, readonly: bool = False) -> UnitOfWork: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str, password: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class StoredImage:
    path: str
    format: str
    size_bytes: int
    sha1: str


class ImageStorePort(Protocol):
    """Brings image bytes into the cloud's image cache, verifying their checksum."""

    def import_image(
        self, source: str, *, expected_sha1: str | None, name: str,
        progress: Callable[[int], None] | None = None,
    ) -> StoredImage:
        """Copy (server path) or download (http/https URL, within the store's SSRF rules and
        limits) `source`; `progress(bytes so far)` is called along the way."""
        ...

    def import_flattened(
        self, overlay_path: str, *, name: str, fmt: str = "qcow2"
    ) -> StoredImage:
        """A new image from a VM disk overlay and its backing chain, flattened into one file."""
        ...

    def remove(self, path: str) -> None: ...


class NamedLock(Protocol):
    """A lock that front ends sharing one database contend for (persistence.locks.DbLock).
    Held until released or until the holder's process or database connection dies."""

    def try_acquire(self) -> bool: ...
    def held(self) -> bool: ...
    def release(self) -> None: ...
