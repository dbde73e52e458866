"""FakeIdentity: users, groups and authentication in memory (the IdentityPort)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from stratuslab.core.auth import Credentials
from stratuslab.core.entities import Group, Principal, Role, User
from stratuslab.core.errors import AuthenticationFailed, NotFound

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class FakeIdentity:
    def __init__(self, calls: list[tuple[Any, ...]]) -> None:
        self.calls = calls
        self.groups = {0: Group(0, "oneadmin", NOW), 1: Group(1, "users", NOW)}
        self.users = {
            0: User(0, "oneadmin", "secret", ["oneadmin"], [Role.ADMIN.value], created_at=NOW),
            5: User(5, "alice", "s3cr:t", ["users"], created_at=NOW),
        }

    def authenticate(self, credentials: Credentials) -> Principal:
        self.calls.append(("authenticate", credentials))
        for user in self.users.values():
            if user.name == credentials.username and user.password_hash == credentials.password:
                assert user.id is not None
                return Principal(user.name, user.id, tuple(user.groups), frozenset(user.roles))
        raise AuthenticationFailed()

    def user_id(self, name: str) -> int:
        return next((i for i, u in self.users.items() if u.name == name), -1)

    def group_id(self, name: str) -> int:
        return next((i for i, g in self.groups.items() if g.name == name), -1)

    def user_get(self, principal: Principal, user_id: int) -> User:
        user_id = principal.user_id if user_id == -1 else user_id
        if user_id not in self.users:
            raise NotFound("user", user_id)
        return self.users[user_id]

    def user_list(self, principal: Principal) -> Sequence[User]:
        return list(self.users.values())

    def user_allocate(
        self, principal: Principal, name: str, password: str, *, driver: str, groups: Sequence[int]
    ) -> int:
        self.calls.append(("user_allocate", name, password, driver, list(groups)))
        user_id = max(self.users) + 1
        names = [self.groups[g].name for g in groups] or ["users"]
        self.users[user_id] = User(user_id, name, password, names, created_at=NOW)
        return user_id

    def user_passwd(self, principal: Principal, user_id: int, password: str) -> None:
        self.users[user_id] = replace(self.user_get(principal, user_id), password_hash=password)

    def user_chgrp(self, principal: Principal, user_id: int, group_id: int) -> None:
        user = self.user_get(principal, user_id)
        self.users[user_id] = replace(user, groups=[self.groups[group_id].name])

    def user_delete(self, principal: Principal, user_id: int) -> None:
        self.user_get(principal, user_id)
        del self.users[user_id]

    def group_get(self, principal: Principal, group_id: int) -> Group:
        if group_id not in self.groups:
            raise NotFound("group", group_id)
        return self.groups[group_id]

    def group_list(self, principal: Principal) -> Sequence[Group]:
        return list(self.groups.values())

    def group_allocate(self, principal: Principal, name: str) -> int:
        group_id = max(self.groups) + 1
        self.groups[group_id] = Group(group_id, name, NOW)
        return group_id

    def group_delete(self, principal: Principal, group_id: int) -> None:
        del self.groups[self.group_get(principal, group_id).id or 0]

    def user_enable(self, principal: Principal, user_id: int, *, enabled: bool) -> None:
        self.calls.append(("user_enable", user_id, enabled))

    def user_addgroup(self, principal: Principal, user_id: int, group_id: int) -> None:
        self.calls.append(("user_addgroup", user_id, group_id))

    def user_delgroup(self, principal: Principal, user_id: int, group_id: int) -> None:
        self.calls.append(("user_delgroup", user_id, group_id))
