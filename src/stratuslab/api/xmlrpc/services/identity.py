"""Users, groups and authentication over the IdentityService (the IdentityPort).

`user_id` / `group_id` turn names into the numeric UID/GID columns of rendered objects (they
look up as the cloud, since the names are already visible to the caller).  OpenNebula's `core`
and `x509` authentication drivers map to a password and a certificate subject.  Translation
only; imports core, services and this package.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import timedelta

from stratuslab.api.xmlrpc.services.common import LOOKUP, Deps, unsupported
from stratuslab.core.auth import Credentials
from stratuslab.core.entities import Group, Principal, User
from stratuslab.core.errors import Forbidden, InvalidInput, NotFound
from stratuslab.core.quotas import Subject, SubjectKind


class IdentityCalls:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def authenticate(self, credentials: Credentials) -> Principal:
        return self.deps.authenticate(credentials)

    def user_id(self, name: str) -> int:
        try:
            return self.deps.identity.get_user(LOOKUP, name).id or 0
        except NotFound:
            return -1

    def group_id(self, name: str) -> int:
        return (
            next((g.id for g in self.deps.identity.list_groups(LOOKUP) if g.name == name), -1) or 0
        )

    # ---- users and groups ----------------------------------------------------------------
    def user_get(self, principal: Principal, user_id: int) -> User:
        return self.deps.identity.get_user(principal, principal.user_id if user_id < 0 else user_id)

    def user_list(self, principal: Principal) -> Sequence[User]:
        return self.deps.identity.list_users(principal)

    def user_allocate(
        self, principal: Principal, name: str, password: str, *, driver: str, groups: Sequence[int]
    ) -> int:
        known = {g.id: g.name for g in self.deps.identity.list_groups(principal)}
        for gid in groups:
            if gid not in known:
                raise NotFound("group", gid, "one.grouppool.info")
        names = [known[g] for g in groups] or None
        if driver in ("", "core"):
            user = self.deps.identity.create_user(principal, name, password, groups=names)
        elif driver == "x509":  # OpenNebula's x509 driver: the "password" is the subject DN
            user = self.deps.identity.create_user(
                principal, name, secrets.token_urlsafe(24), groups=names, dn=password
            )
        else:
            raise unsupported(f"the {driver!r} authentication driver (use core or x509)")
        assert user.id is not None
        return user.id

    def user_passwd(self, principal: Principal, user_id: int, password: str) -> None:
        self.deps.identity.set_password(principal, user_id, password)

    def user_chgrp(self, principal: Principal, user_id: int, group_id: int) -> None:
        groups = self.deps.identity.list_groups(LOOKUP)  # the service checks the caller's right
        group = next((g for g in groups if g.id == group_id), None)
        if group is None:
            raise NotFound("group", group_id, "one.grouppool.info")
        self.deps.identity.set_primary_group(principal, user_id, group.name)

    def user_update(self, principal: Principal, user_id: int, text: str) -> None:
        self.deps.identity.update_template(
            principal, principal.user_id if user_id < 0 else user_id, text)

    def user_chauth(self, principal: Principal, user_id: int, driver: str, secret: str) -> None:
        self.deps.identity.set_auth(principal, user_id, driver, secret)

    def user_login(self, principal: Principal, name: str, token: str, seconds: int) -> str:
        if name != principal.user:
            raise Forbidden(f"user {principal.user} may not get a login token for {name}",
                            hint="each user logs in for themselves (one.user.login)")
        if seconds == 0:  # OpenNebula: a zero validity resets (removes) the token
            if not token:
                raise InvalidInput("a validity of 0 removes a token: give the token to remove")
            self.deps.identity.revoke_token(principal, token)
            return token
        if token:
            raise InvalidInput("this cloud chooses login tokens itself",
                               hint="send an empty token and use the one answered")
        limit = self.deps.identity.MAX_TOKEN_TTL
        ttl = limit if seconds < 0 else timedelta(seconds=seconds)
        return self.deps.identity.issue_token(principal, ttl)[0]

    def quota_set(
        self, principal: Principal, kind: str, obj_id: int, changes: Mapping[str, int | None]
    ) -> None:
        if kind == "user":
            subject = Subject(SubjectKind.USER, self.deps.identity.get_user(LOOKUP, obj_id).name)
        else:
            subject = Subject(SubjectKind.GROUP, self._group_name(obj_id))
        self.deps.compute_quotas.set(principal, subject, dict(changes))

    def user_delete(self, principal: Principal, user_id: int) -> None:
        self.deps.identity.delete_user(principal, user_id)

    def group_get(self, principal: Principal, group_id: int) -> Group:
        for group in self.deps.identity.list_groups(principal):
            if group.id == group_id:
                return group
        raise NotFound("group", group_id, "one.grouppool.info")

    def group_list(self, principal: Principal) -> Sequence[Group]:
        return self.deps.identity.list_groups(principal)

    def group_allocate(self, principal: Principal, name: str) -> int:
        return self.deps.identity.create_group(principal, name).id or 0

    def group_delete(self, principal: Principal, group_id: int) -> None:
        self.deps.identity.delete_group(principal, self.group_get(principal, group_id).name)

    def _group_name(self, group_id: int) -> str:
        groups = self.deps.identity.list_groups(LOOKUP)  # the service checks the caller's right
        group = next((g for g in groups if g.id == group_id), None)
        if group is None:
            raise NotFound("group", group_id, "one.grouppool.info")
        return group.name

    def user_enable(self, principal: Principal, user_id: int, *, enabled: bool) -> None:
        self.deps.identity.set_enabled(principal, user_id, enabled)

    def user_addgroup(self, principal: Principal, user_id: int, group_id: int) -> None:
        self.deps.identity.add_group(principal, user_id, self._group_name(group_id))

    def user_delgroup(self, principal: Principal, user_id: int, group_id: int) -> None:
        self.deps.identity.remove_group(principal, user_id, self._group_name(group_id))
