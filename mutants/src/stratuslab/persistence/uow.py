"""The SQLAlchemy unit of work: one connection, one transaction, the repositories over it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, Engine

from stratuslab.core import ports
from stratuslab.persistence import repos
from stratuslab.persistence.engine import READONLY

RepoFactory = Callable[[Connection], Any]


class SqlUnitOfWork:
    users: ports.UserRepo  # the port's type: protocol attributes are invariant
    groups: ports.GroupRepo  # the port's type: protocol attributes are invariant
    images: ports.ImageRepo  # the port's type: protocol attributes are invariant
    vms: ports.VmRepo  # the port's type: protocol attributes are invariant
    jobs: ports.JobRepo  # the port's type: protocol attributes are invariant
    events: ports.EventRepo  # the port's type: protocol attributes are invariant
    tokens: ports.TokenRepo  # the port's type: protocol attributes are invariant
    idempotency: ports.IdempotencyRepo  # the port's type: protocol attributes are invariant

    def __init__(
        self, engine: Engine, *, readonly: bool = False,
        extra_repos: Mapping[str, RepoFactory] | None = None,
    ) -> None:
        self._engine = engine
        self._extra_factories = dict(extra_repos or {})
        self._extra: dict[str, Any] = {}
        self._readonly = readonly
        self._conn: Connection | None = None

    def __enter__(self) -> Self:
        self._conn = self._engine.connect()
        # SQLite: writers take the write lock up front (BEGIN IMMEDIATE) so two read-then-write
        # transactions never deadlock on the lock upgrade; readers stay concurrent (WAL).
        self._conn.info[READONLY] = self._readonly
        self._conn.begin()
        c = self._conn
        self.users = repos.UserRepo(c)
        self.groups = repos.GroupRepo(c)
        self.images = repos.ImageRepo(c)
        self.vms = repos.VmRepo(c)
        self.jobs = repos.JobRepo(c)
        self.events = repos.EventRepo(c)
        self.tokens = repos.TokenRepo(c)
        self.idempotency = repos.IdempotencyRepo(c)
        self._extra = {}
        return self

    def repo(self, name: str) -> Any:
        """A repository registered by a feature (leases, volumes...), bound to this transaction."""
        if name not in self._extra:
            assert self._conn is not None, "use the unit of work inside `with`"
            self._extra[name] = self._extra_factories[name](self._conn)
        return self._extra[name]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
        finally:
            self._conn.close()
            self._conn = None

    def commit(self) -> None:
        assert self._conn is not None
        self._conn.commit()
        self._conn.begin()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.extra_repos: dict[str, RepoFactory] = {}

    def register(self, name: str, factory: RepoFactory) -> None:
        """Make `uow.repo(name)` available (features add their repositories at bootstrap)."""
        self.extra_repos[name] = factory

    def __call__(self, *, readonly: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, readonly=readonly, extra_repos=self.extra_repos)
