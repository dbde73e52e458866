"""Repositories over the cloud tables: map rows to core entities (columns and fields share names)."""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, and_, delete, func, insert, or_, select, update

from stratuslab.core.entities import Group, Image, Job, JobState, User, Vm, VmEvent
from stratuslab.core.ports import Page, VmFilter
from stratuslab.core.states import TERMINAL
from stratuslab.persistence import tables as t

E = TypeVar("E")


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def from_row(cls: type[E], row: Any) -> E:
    m = row._mapping
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: _aware(v) for k, v in m.items() if k in names})


def to_values(obj: Any, table: Table, *, skip_id: bool = True) -> dict[str, Any]:
    cols = set(table.c.keys())
    values = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.name in cols}
    if skip_id and values.get("id") is None:
        values.pop("id", None)
    return values


class _Repo:
    table: Table
    entity: type[Any]

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _add(self, obj: Any) -> Any:
        result = self.conn.execute(insert(self.table).values(**to_values(obj, self.table)))
        if "id" in self.table.c and getattr(obj, "id", None) is None:
            key = result.inserted_primary_key
            assert key is not None  # an INSERT of one row
            obj.id = key[0]
        return obj

    def _get(self, obj_id: Any) -> Any:
        row = self.conn.execute(select(self.table).where(self.table.c.id == obj_id)).first()
        return from_row(self.entity, row) if row else None

    def _update(self, obj: Any) -> None:
        self.conn.execute(
            update(self.table).where(self.table.c.id == obj.id).values(**to_values(obj, self.table))
        )


class UserRepo(_Repo):
    table, entity = t.users, User

    def add(self, user: User) -> User:
        return self._add(user)  # type: ignore[no-any-return]

    def get(self, user_id: int) -> User | None:
        return self._get(user_id)  # type: ignore[no-any-return]

    def by_name(self, name: str) -> User | None:
        row = self.conn.execute(select(t.users).where(t.users.c.name == name)).first()
        return from_row(User, row) if row else None

    def by_dn(self, dn: str) -> User | None:
        row = self.conn.execute(select(t.users).where(t.users.c.dn == dn)).first()
        return from_row(User, row) if row else None

    def list(self) -> list[User]:
        return [from_row(User, r) for r in self.conn.execute(select(t.users).order_by(t.users.c.id))]

    def update(self, user: User) -> None:
        self._update(user)

    def delete(self, user_id: int) -> None:
        self.conn.execute(delete(t.tokens).where(t.tokens.c.user_id == user_id))
        self.conn.execute(delete(t.users).where(t.users.c.id == user_id))


class GroupRepo(_Repo):
    table, entity = t.groups, Group

    def add(self, group: Group) -> Group:
        return self._add(group)  # type: ignore[no-any-return]

    def get(self, group_id: int) -> Group | None:
        return self._get(group_id)  # type: ignore[no-any-return]

    def by_name(self, name: str) -> Group | None:
        row = self.conn.execute(select(t.groups).where(t.groups.c.name == name)).first()
        return from_row(Group, row) if row else None

    def list(self) -> list[Group]:
        return [from_row(Group, r) for r in self.conn.execute(select(t.groups).order_by(t.groups.c.id))]

    def delete(self, group_id: int) -> None:
        self.conn.execute(delete(t.groups).where(t.groups.c.id == group_id))


class ImageRepo(_Repo):
    table, entity = t.images, Image

    def add(self, image: Image) -> Image:
        return self._add(image)  # type: ignore[no-any-return]

    def get(self, image_id: int) -> Image | None:
        return self._get(image_id)  # type: ignore[no-any-return]

    def list(self, owner: str | None = None) -> list[Image]:
        q = select(t.images).where(t.images.c.state != "deleted").order_by(t.images.c.id)
        if owner is not None:
            q = q.where(or_(t.images.c.owner == owner, t.images.c.public.is_(True)))
        return [from_row(Image, r) for r in self.conn.execute(q)]

    def update(self, image: Image) -> None:
        self._update(image)


class VmRepo(_Repo):
    table, entity = t.vms, Vm

    def add(self, vm: Vm) -> Vm:
        return self._add(vm)  # type: ignore[no-any-return]

    def get(self, vm_id: int) -> Vm | None:
        return self._get(vm_id)  # type: ignore[no-any-return]

    def _where(self, flt: VmFilter) -> Any:
        conds = []
        if flt.owner is not None:
            conds.append(t.vms.c.owner == flt.owner)
        if flt.states:
            conds.append(t.vms.c.state.in_(flt.states))
        elif not flt.include_done:
            conds.append(t.vms.c.state.not_in([s.value for s in TERMINAL]))
        if flt.name:
            conds.append(t.vms.c.name == flt.name)
        return and_(True, *conds)

    def list(self, flt: VmFilter, page: Page) -> list[Vm]:
        q = (
            select(t.vms)
            .where(self._where(flt))
            .order_by(t.vms.c.id)
            .offset(page.offset)
            .limit(page.limit)
        )
        return [from_row(Vm, r) for r in self.conn.execute(q)]

    def count(self, flt: VmFilter) -> int:
        q = select(func.count()).select_from(t.vms).where(self._where(flt))
        return int(self.conn.execute(q).scalar_one())

    def cas_state(self, vm_id: int, expected: str, new: str, **changes: Any) -> bool:
        result = self.conn.execute(
            update(t.vms)
            .where(t.vms.c.id == vm_id, t.vms.c.state == expected)
            .values(state=new, **changes)
        )
        return bool(result.rowcount == 1)

    def update(self, vm: Vm) -> None:
        self._update(vm)


class JobRepo(_Repo):
    table, entity = t.jobs, Job

    def add(self, job: Job) -> Job:
        return self._add(job)  # type: ignore[no-any-return]

    def get(self, job_id: int) -> Job | None:
        return self._get(job_id)  # type: ignore[no-any-return]

    def list(self, owner: str | None, vm_id: int | None, page: Page, *,
             before: int | None = None) -> list[Job]:
        q = select(t.jobs).order_by(t.jobs.c.id.desc()).offset(page.offset).limit(page.limit)
        if before is not None:
            q = q.where(t.jobs.c.id < before)
        if owner is not None:
            q = q.where(t.jobs.c.owner == owner)
        if vm_id is not None:
            q = q.where(t.jobs.c.vm_id == vm_id)
        return [from_row(Job, r) for r in self.conn.execute(q)]

    def claim_next(
        self, runner: str, now: datetime, stale_before: datetime,
        retry_delay: Callable[[int], timedelta] | None = None, *,
        hosts: Collection[str] | None = None,
    ) -> Job | None:
        """Compare-and-swap claim; on PostgreSQL the candidate row is locked SKIP LOCKED.  An
        interrupted job waits `retry_delay(attempts)` more before it is claimed again: the
        candidates are read in id order and the first one due is taken.  With `hosts`, jobs of
        VMs placed on other hosts are left to the front ends that serve those."""
        claimable = or_(
            t.jobs.c.state == JobState.QUEUED.value,
            and_(t.jobs.c.state == JobState.RUNNING.value, t.jobs.c.heartbeat < stale_before),
        )
        # one job per VM at a time: skip VMs with a job another runner is actively working on
        busy = (
            select(t.jobs.c.vm_id)
            .where(t.jobs.c.state == JobState.RUNNING.value, t.jobs.c.heartbeat >= stale_before)
            .where(t.jobs.c.vm_id.is_not(None))
        )
        q = (
            select(t.jobs.c.id, t.jobs.c.state, t.jobs.c.heartbeat, t.jobs.c.attempts)
            .where(claimable, or_(t.jobs.c.vm_id.is_(None), t.jobs.c.vm_id.not_in(busy)))
            .order_by(t.jobs.c.id)
            .limit(1 if retry_delay is None else 64)
        )
        if hosts is not None:
            here = select(t.vms.c.id).where(or_(t.vms.c.host.is_(None),
                                                t.vms.c.host.in_(sorted(hosts))))
            q = q.where(or_(t.jobs.c.vm_id.is_(None), t.jobs.c.vm_id.in_(here)))
        if self.conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        row = next((r for r in self.conn.execute(q)
                    if r.state == JobState.QUEUED.value or retry_delay is None
                    or r.heartbeat is None
                    or _aware(r.heartbeat) < stale_before - retry_delay(r.attempts)), None)
        if row is None:
            return None
        result = self.conn.execute(
            update(t.jobs)
            .where(t.jobs.c.id == row.id, t.jobs.c.state == row.state)
            .where(
                t.jobs.c.heartbeat.is_(None)
                if row.heartbeat is None
                else t.jobs.c.heartbeat == row.heartbeat
            )
            .values(
                state=JobState.RUNNING.value,
                runner=runner,
                heartbeat=now,
                attempts=t.jobs.c.attempts + 1,
                updated_at=now,
            )
        )
        if result.rowcount != 1:
            return None
        return self.get(row.id)

    def update(self, job: Job) -> None:
        self._update(job)

    def heartbeat(self, runner: str, job_ids: builtins.list[int], now: datetime) -> None:
        heartbeat(self.conn, runner, job_ids, now)

    def active_for_vm(self, vm_id: int) -> Job | None:
        row = self.conn.execute(
            select(t.jobs)
            .where(t.jobs.c.vm_id == vm_id)
            .where(t.jobs.c.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]))
            .order_by(t.jobs.c.id)
            .limit(1)
        ).first()
        return from_row(Job, row) if row else None


class EventRepo(_Repo):
    table, entity = t.vm_events, VmEvent

    def add(self, event: VmEvent) -> None:
        self._add(event)

    def for_vm(self, vm_id: int) -> list[VmEvent]:
        q = select(t.vm_events).where(t.vm_events.c.vm_id == vm_id).order_by(t.vm_events.c.id)
        return [from_row(VmEvent, r) for r in self.conn.execute(q)]


class TokenRepo(_Repo):
    table = t.tokens

    def add(self, token_hash: str, user_id: int, expires_at: datetime) -> None:
        self.conn.execute(
            insert(t.tokens).values(token_hash=token_hash, user_id=user_id, expires_at=expires_at)
        )

    def user_for(self, token_hash: str, now: datetime) -> int | None:
        row = self.conn.execute(
            select(t.tokens.c.user_id, t.tokens.c.expires_at).where(
                t.tokens.c.token_hash == token_hash
            )
        ).first()
        if row is None or _aware(row.expires_at) <= now:
            return None
        return int(row.user_id)


    def listing(self, user_id: int | None, now: datetime) -> list[tuple[str, int, datetime]]:
        """(token_hash, user_id, expires_at) of unexpired tokens (of `user_id`, or all)."""
        q = select(t.tokens.c.token_hash, t.tokens.c.user_id, t.tokens.c.expires_at)
        if user_id is not None:
            q = q.where(t.tokens.c.user_id == user_id)
        rows = [(r.token_hash, int(r.user_id), _aware(r.expires_at)) for r in self.conn.execute(q)]
        return sorted((r for r in rows if r[2] > now), key=lambda r: r[2])

    def delete(self, token_hash: str) -> None:
        self.conn.execute(delete(t.tokens).where(t.tokens.c.token_hash == token_hash))

    def purge_expired(self, now: datetime) -> None:
        self.conn.execute(delete(t.tokens).where(t.tokens.c.expires_at <= now))


class IdempotencyRepo(_Repo):
    table = t.idempotency_keys

    def get(self, owner: str, key: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            select(t.idempotency_keys.c.result).where(
                t.idempotency_keys.c.owner == owner, t.idempotency_keys.c.key == key
            )
        ).first()
        return dict(row.result) if row else None

    def put(self, owner: str, key: str, result: dict[str, Any], at: datetime) -> None:
        self.conn.execute(
            insert(t.idempotency_keys).values(owner=owner, key=key, result=result, created_at=at)
        )


def heartbeat(conn: Connection, runner: str, job_ids: list[int], now: datetime) -> None:
    conn.execute(
        update(t.jobs)
        .where(t.jobs.c.id.in_(job_ids), t.jobs.c.runner == runner,
               t.jobs.c.state == JobState.RUNNING.value)
        .values(heartbeat=now)
    )
