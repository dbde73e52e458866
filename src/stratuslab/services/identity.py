"""Users, groups and API tokens of the cloud database; password and token authenticators.

Passwords are hashed with argon2.  Verification results are cached briefly in memory (keyed by a
SHA-256 of user, password and stored hash) so that HTTP Basic clients do not pay argon2's cost on
every request; a password change invalidates the entry because the stored hash changes.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError

from stratuslab.core.auth import Credentials
from stratuslab.core.entities import Group, Principal, Role, User
from stratuslab.core.errors import AuthenticationFailed, Conflict, Forbidden, InvalidInput, NotFound
from stratuslab.core.ports import Clock, Page, PasswordHasher, UnitOfWorkFactory, VmFilter
from stratuslab.core.templates import checked_text
from stratuslab.services.policy import authorize_service, check_gate

NAME_RE = re.compile(r"^[A-Za-z][\w.-]{1,63}$")
ADMIN_USER = "admin"
ADMIN_GROUP = "oneadmin"
USERS_GROUP = "users"
#: how a user may authenticate (OpenNebula's driver names): a password, or a certificate subject
AUTH_DRIVERS = ("core", "x509")
TOKEN_ID_LENGTH = 12  # hex characters of the stored hash shown as a token's id


class Argon2Hasher:
    def __init__(self) -> None:
        self._h = _Argon2()

    def hash(self, password: str) -> str:
        return self._h.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._h.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def principal_of(user: User, method: str) -> Principal:
    return Principal(
        user=user.name,
        user_id=user.id or 0,
        groups=tuple(user.groups),
        roles=frozenset(user.roles),
        method=method,
    )


def require_admin(principal: Principal, what: str) -> None:
    if not principal.is_admin:
        raise Forbidden(f"{what} needs the admin role; {principal.user} does not have it")


class IdentityService:
    TOKEN_TTL = timedelta(hours=12)
    MAX_TOKEN_TTL = timedelta(days=30)

    def __init__(self, uow: UnitOfWorkFactory, hasher: PasswordHasher, clock: Clock) -> None:
        self.uow = uow
        self.hasher = hasher
        self.clock = clock
        self._verified: dict[str, float] = {}
        self._lock = threading.Lock()

    # -- bootstrap ------------------------------------------------------------------------
    def ensure_admin(self, password: str | None) -> str | None:
        """Create the `admin` user on first start; return the generated password, if any."""
        with self.uow() as uow:
            for g in (ADMIN_GROUP, USERS_GROUP):
                if uow.groups.by_name(g) is None:
                    uow.groups.add(Group(None, g, self.clock.now()))
            existing = uow.users.by_name(ADMIN_USER)
            generated = None
            if existing is None:
                if not password:
                    password = generated = secrets.token_urlsafe(12)
                uow.users.add(
                    User(None, ADMIN_USER, self.hasher.hash(password), [ADMIN_GROUP],
                         [Role.ADMIN.value, Role.USER.value, Role.CLOUD_ACCESS.value],
                         created_at=self.clock.now())
                )
            elif password and not self.hasher.verify(existing.password_hash or "", password):
                existing.password_hash = self.hasher.hash(password)
                uow.users.update(existing)
            uow.commit()
            return generated

    # -- users and groups ---------------------------------------------------------------
    def create_user(
        self, principal: Principal, name: str, password: str, *,
        groups: list[str] | None = None, admin: bool = False, dn: str | None = None,
    ) -> User:
        authorize_service(principal, "users.manage")
        if not NAME_RE.match(name):
            raise InvalidInput(
                f"user name {name!r} is not valid",
                hint="use 2-64 letters, digits, '.', '_' or '-', starting with a letter",
            )
        if len(password) < 4:
            raise InvalidInput(f"the password for user {name} is too short (4 characters at least)")
        groups = groups or [USERS_GROUP]
        with self.uow() as uow:
            if uow.users.by_name(name) is not None:
                raise Conflict(f"user {name} already exists", hint="choose another name")
            for g in groups:
                if uow.groups.by_name(g) is None:
                    raise NotFound("group", g, "stratus group list")
            roles = [Role.USER.value, Role.CLOUD_ACCESS.value] + ([Role.ADMIN.value] if admin else [])
            user = uow.users.add(
                User(None, name, self.hasher.hash(password), groups, roles, dn=dn,
                     created_at=self.clock.now())
            )
            uow.commit()
            return user

    def list_users(self, principal: Principal) -> list[User]:
        with self.uow(readonly=True) as uow:
            if principal.is_admin:
                return uow.users.list()
            me = uow.users.get(principal.user_id)
            return [me] if me else []

    def get_user(self, principal: Principal, ident: int | str) -> User:
        with self.uow(readonly=True) as uow:
            user = uow.users.get(ident) if isinstance(ident, int) else uow.users.by_name(ident)
        if user is None or (not principal.is_admin and user.id != principal.user_id):
            raise NotFound("user", ident, "stratus user list")
        return user

    def delete_user(self, principal: Principal, ident: int | str) -> None:
        authorize_service(principal, "users.manage")
        user = self.get_user(principal, ident)
        if user.name == ADMIN_USER:
            raise InvalidInput("the bootstrap user admin cannot be deleted")
        with self.uow() as uow:
            # VMs are owned by name: a deleted owner's live VMs would have no user, and a new
            # user of the same name would inherit them (OpenNebula keeps them with the old UID)
            live = [vm.id for vm in uow.vms.list(VmFilter(owner=user.name), Page(0, 100_000))
                    if vm.state not in ("done", "failed")]
            if live:
                raise Conflict(
                    f"user {user.name} still owns VMs {', '.join(map(str, live))}",
                    hint="kill them, or give them to another user (one.vm.chown), first",
                )
            uow.users.delete(user.id or 0)
            uow.commit()

    def set_primary_group(self, principal: Principal, ident: int | str, group: str) -> User:
        """Make `group` the user's primary group (OpenNebula chgrp); other groups stay."""
        authorize_service(principal, "users.manage")
        user = self.get_user(principal, ident)
        with self.uow() as uow:
            if uow.groups.by_name(group) is None:
                raise NotFound("group", group, "stratus group list")
            user.groups = [group] + [g for g in user.groups if g != group]
            uow.users.update(user)
            uow.commit()
        return user

    def set_enabled(self, principal: Principal, ident: int | str, enabled: bool) -> User:
        """Enable or disable a user (a disabled user cannot authenticate; OpenNebula enable)."""
        authorize_service(principal, "users.manage")
        user = self.get_user(principal, ident)
        if user.name == ADMIN_USER and not enabled:
            raise InvalidInput("the bootstrap user admin cannot be disabled")
        with self.uow() as uow:
            user.enabled = enabled
            uow.users.update(user)
            uow.commit()
        return user

    def add_group(self, principal: Principal, ident: int | str, group: str) -> User:
        """Make the user a member of `group` too (OpenNebula addgroup); the primary stays."""
        authorize_service(principal, "users.manage")
        user = self.get_user(principal, ident)
        with self.uow() as uow:
            if uow.groups.by_name(group) is None:
                raise NotFound("group", group, "stratus group list")
            if group not in user.groups:
                user.groups = [*user.groups, group]
                uow.users.update(user)
                uow.commit()
        return user

    def remove_group(self, principal: Principal, ident: int | str, group: str) -> User:
        """Remove a secondary group (OpenNebula delgroup); the primary group cannot go."""
        authorize_service(principal, "users.manage")
        user = self.get_user(principal, ident)
        if group not in user.groups:
            raise NotFound(f"group of user {user.name}", group, "one.user.info")
        if user.groups[0] == group:
            raise InvalidInput(f"{group} is the primary group of user {user.name}",
                               hint="give another primary group first (one.user.chgrp)")
        with self.uow() as uow:
            user.groups = [g for g in user.groups if g != group]
            uow.users.update(user)
            uow.commit()
        return user

    def set_password(self, principal: Principal, ident: int | str, password: str) -> None:
        user = self.get_user(principal, ident)
        if len(password) < 4:
            raise InvalidInput(f"the password for user {user.name} is too short")
        with self.uow() as uow:
            user.password_hash = self.hasher.hash(password)
            uow.users.update(user)
            uow.commit()

    def set_auth(self, principal: Principal, ident: int | str, driver: str, secret: str) -> User:
        """Change how a user authenticates (OpenNebula chauth; administrators): `core` with a
        password (a certificate subject mapped to them is dropped), or `x509` with the subject
        DN of their certificate (password logins stop)."""
        authorize_service(principal, "users.manage")
        user = self.get_user(principal, ident)
        if driver not in AUTH_DRIVERS:
            raise InvalidInput(f"authentication driver {driver!r} of user {user.name} is not "
                               "supported", hint=f"use one of: {', '.join(AUTH_DRIVERS)}")
        if driver == "core":
            if len(secret) < 4:
                raise InvalidInput(f"the password for user {user.name} is too short "
                                   "(4 characters at least)")
            user.password_hash, user.dn = self.hasher.hash(secret), None
        else:
            if not secret.strip():
                raise InvalidInput(f"user {user.name}: x509 needs the certificate's subject DN",
                                   hint='e.g. "/C=CH/O=Example/CN=Jane Doe"')
            user.password_hash, user.dn = None, secret.strip()
        with self.uow() as uow:
            other = uow.users.by_dn(user.dn) if user.dn else None
            if other is not None and other.id != user.id:
                raise Conflict(f"the subject {user.dn} is already mapped to user {other.name}",
                               hint="each certificate maps to one user")
            uow.users.update(user)
            uow.commit()
        return user

    def update_template(self, principal: Principal, ident: int | str, text: str) -> User:
        """Replace a user's free-form attributes (OpenNebula TEMPLATE): the user or an admin."""
        user = self.get_user(principal, ident)
        with self.uow() as uow:
            user.template = checked_text(f"user {user.name}", text)
            uow.users.update(user)
            uow.commit()
        return user

    def create_group(self, principal: Principal, name: str) -> Group:
        authorize_service(principal, "users.manage")
        if not NAME_RE.match(name):
            raise InvalidInput(f"group name {name!r} is not valid")
        with self.uow() as uow:
            if uow.groups.by_name(name) is not None:
                raise Conflict(f"group {name} already exists")
            group = uow.groups.add(Group(None, name, self.clock.now()))
            uow.commit()
            return group

    def list_groups(self, principal: Principal) -> list[Group]:
        with self.uow(readonly=True) as uow:
            groups = uow.groups.list()
        return groups if principal.is_admin else [g for g in groups if g.name in principal.groups]

    def delete_group(self, principal: Principal, name: str) -> None:
        authorize_service(principal, "users.manage")
        with self.uow() as uow:
            group = uow.groups.by_name(name)
            if group is None:
                raise NotFound("group", name, "stratus group list")
            members = [u.name for u in uow.users.list() if name in u.groups]
            if members:
                raise Conflict(f"group {name} still has members: {', '.join(members[:5])}")
            uow.groups.delete(group.id or 0)
            uow.commit()

    # -- tokens ---------------------------------------------------------------------------
    def token_ttl(self, hours: float | None) -> timedelta:
        """The lifetime asked for, checked against MAX_TOKEN_TTL (InvalidInput beyond it)."""
        if hours is None:
            return self.TOKEN_TTL
        limit = self.MAX_TOKEN_TTL.total_seconds() / 3600
        if not (0 < hours <= limit):  # also refuses NaN
            raise InvalidInput(f"a token lifetime of {hours} hours is not allowed",
                               hint=f"ask for more than 0 and at most {limit:g} hours")
        return timedelta(hours=hours)

    def issue_token(self, principal: Principal, ttl: timedelta | None = None) -> tuple[str, str]:
        check_gate(principal)  # also: a principal without an account (user_id 0) gets none
        if principal.limited:  # a token would outlive and exceed the limited proxy
            raise Forbidden(f"user {principal.user} connected with a limited proxy, which may "
                            "not issue tokens", hint="use a full proxy or your password")
        ttl = self.token_ttl(ttl.total_seconds() / 3600 if ttl is not None else None)
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        expires = now + ttl
        with self.uow() as uow:
            uow.tokens.purge_expired(now)
            uow.tokens.add(hashlib.sha256(token.encode()).hexdigest(), principal.user_id, expires)
            uow.commit()
        return token, expires.isoformat()

    def list_tokens(self, principal: Principal, *, all_users: bool = False,
                    ) -> list[dict[str, Any]]:
        """The caller's unexpired tokens (everyone's for an admin asking `all_users`): an id
        (the first characters of the stored hash; the token itself is never kept) and expiry."""
        if all_users:
            require_admin(principal, "listing every user's tokens")
        with self.uow(readonly=True) as uow:
            rows = uow.tokens.listing(None if all_users else principal.user_id,
                                      self.clock.now())
            names = {u.id: u.name for u in uow.users.list()} if all_users else {}
        return [{"id": digest[:TOKEN_ID_LENGTH], "user": names.get(uid, principal.user),
                 "expires_at": expires.isoformat()} for digest, uid, expires in rows]

    def revoke_token(self, principal: Principal, token_id: str) -> None:
        """Delete the token `token_id` (an id from list_tokens, or the token itself) of the
        caller; admins may revoke anyone's.  Takes effect at the next request."""
        text = token_id.strip()
        prefix = text.lower() if re.fullmatch(r"[0-9a-fA-F]{8,64}", text) else \
            hashlib.sha256(text.encode()).hexdigest()
        with self.uow() as uow:
            mine = None if principal.is_admin else principal.user_id
            found = [r for r in uow.tokens.listing(mine, self.clock.now())
                     if r[0].startswith(prefix)]
            if len(found) != 1:
                raise NotFound("token", token_id, "stratus token list")
            uow.tokens.delete(found[0][0])
            uow.commit()

    # -- authenticators -------------------------------------------------------------------
    def check_password(self, name: str, password: str) -> Principal:
        with self.uow(readonly=True) as uow:
            user = uow.users.by_name(name)
        if user is None or not user.enabled or not user.password_hash:
            if user is not None and user.password_hash:  # as much work as a wrong password
                self.hasher.verify(user.password_hash, password)
            raise AuthenticationFailed()
        key = hashlib.sha256(f"{name}\0{password}\0{user.password_hash}".encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            ok = self._verified.get(key, 0.0) > now
        if not ok:
            if not self.hasher.verify(user.password_hash, password):
                raise AuthenticationFailed()
            with self._lock:
                if len(self._verified) > 10_000:
                    self._verified.clear()
                self._verified[key] = now + 300
        return principal_of(user, "password")

    def check_token(self, token: str) -> Principal:
        digest = hashlib.sha256(token.encode()).hexdigest()
        with self.uow(readonly=True) as uow:
            user_id = uow.tokens.user_for(digest, self.clock.now())
            user = uow.users.get(user_id) if user_id is not None else None
        if user is None or not user.enabled:
            raise AuthenticationFailed(
                "the API token is unknown or expired", hint="get a new one: stratus token"
            )
        return principal_of(user, "token")


class PasswordDbAuthenticator:
    method = "password"

    def __init__(self, identity: IdentityService) -> None:
        self.identity = identity

    def authenticate(self, credentials: Credentials) -> Principal | None:
        if credentials.username is None or credentials.password is None:
            return None
        return self.identity.check_password(credentials.username, credentials.password)


class TokenAuthenticator:
    method = "token"

    def __init__(self, identity: IdentityService) -> None:
        self.identity = identity

    def authenticate(self, credentials: Credentials) -> Principal | None:
        if credentials.token is None:
            return None
        return self.identity.check_token(credentials.token)
