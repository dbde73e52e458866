"""Cloud accounts for people proven elsewhere: password file, LDAP, certificates, VOMS.

The authenticator links prove a name; `CloudUsers.resolver(method)` turns it into the cloud's
Principal.  A name the cloud database already holds is that user (disabled users are refused).
An unknown name gets an account on first login, so that its VMs have an owner, when its source
grants access: LDAP membership of `cloud-access`, a gridmap entry, a password-file or VOMS
login (their own roles and FQANs decide the gate at every request).  Where each account came
from is recorded in the `user_origins` repository (`uow.repo("user_origins")`).  An LDAP person
without `cloud-access` is answered with a role-less Principal that the policy gate refuses.
Directory roles are re-read at every certificate login so revoking `cloud-access` in LDAP takes
effect.  Imports only core and services.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from stratuslab.core.auth import Credentials
from stratuslab.core.directory import AccountStatus, Directory, DirectoryUser
from stratuslab.core.entities import Principal, Role, User
from stratuslab.core.errors import AuthenticationFailed
from stratuslab.core.ports import Clock, UnitOfWorkFactory
from stratuslab.services.auth.common import BadPassword, UserResolver
from stratuslab.services.identity import USERS_GROUP, IdentityService, principal_of

log = logging.getLogger("stratuslab.auth")
ORIGINS = "user_origins"
_ROLES = frozenset(r.value for r in Role)
#: links whose names come from the directory (LDAP bind, LDAP seeAlso certificate mapping)
_DIRECTORY_METHODS = frozenset({"ldap", "x509", "proxy"})
_CERT_METHODS = frozenset({"x509", "proxy"})


class CloudUsers:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, *,
                 directory: Directory | None = None, create: bool = True,
                 directory_grants_access: bool = False):
        """`directory_grants_access`: the directory has no groups to read (no group base), so
        every active person it holds has cloud access."""
        self.uow, self.clock, self.directory, self.create = uow, clock, directory, create
        self.grants = frozenset({Role.CLOUD_ACCESS.value}) if directory_grants_access \
            else frozenset()

    def resolver(self, method: str) -> UserResolver:
        def resolve_user(name: str) -> Principal | None:
            return self.resolve(name, method)

        return resolve_user

    def _directory_person(self, name: str, method: str) -> DirectoryUser | None:
        """The directory's person of that name, for names the directory vouches for."""
        if self.directory is None or method not in _DIRECTORY_METHODS:
            return None
        return self.directory.find_user(name)

    def _directory_roles(self, person: DirectoryUser | None) -> frozenset[str] | None:
        """Roles the directory grants an active person, None when it does not know them."""
        if self.directory is None or person is None:
            return None
        return self.grants | {g for g in self.directory.groups_of(person) if g in _ROLES}

    def _origin(self, user: User) -> str | None:
        with self.uow(readonly=True) as uow:
            try:
                row = uow.repo(ORIGINS).get(user.id or 0)
            except KeyError:
                return None
        return str(row["origin"]) if row else None

    def resolve(self, name: str, method: str) -> Principal | None:
        person = self._directory_person(name, method)
        if person is not None and person.status is not AccountStatus.ACTIVE:
            # a pending registration proves nothing, whatever certificate or password it names
            raise AuthenticationFailed(f"the registration of {name} is still pending",
                                       hint="wait for the administrator's approval email")
        with self.uow(readonly=True) as uow:
            user = uow.users.by_name(name)
        if user is not None:
            if not user.enabled:
                return None
            if person is not None and self._origin(user) != "ldap":
                # the directory's `name` is not the cloud account `name` that an administrator
                # (or another source) made: never hand one person the other's account
                raise AuthenticationFailed(
                    f"directory user {name} is not the owner of the cloud account {name}, "
                    "which was not created from the directory",
                    hint="an administrator must rename one of the two accounts",
                )
            principal = principal_of(user, method)
            if method in _CERT_METHODS:  # an LDAP bind already carries the directory's roles
                principal = replace(principal, roles=principal.roles
                                    | (self._directory_roles(person) or frozenset()))
            elif method == "ldap":
                principal = replace(principal, roles=principal.roles | self.grants)
            return principal
        directory_roles = self._directory_roles(person)
        if directory_roles is not None and Role.CLOUD_ACCESS.value not in directory_roles \
                and Role.ADMIN.value not in directory_roles:
            # proven, but not (yet) granted: the policy gate answers with the way out
            return Principal(name, 0, (USERS_GROUP,), frozenset(), method)
        if not self.create:
            return None
        # a certificate mapped by a gridmap entry (no directory person): the entry is the grant
        granted = [Role.CLOUD_ACCESS.value] if (
            method in _CERT_METHODS and person is None) else []
        origin = "ldap" if person is not None else method
        principal = principal_of(self._create(name, origin, method, granted), method)
        return replace(principal, roles=principal.roles | (directory_roles or frozenset()))

    def _create(self, name: str, origin: str, method: str, roles: list[str]) -> User:
        now = self.clock.now()
        try:
            with self.uow() as uow:
                user = uow.users.add(User(None, name, None, [USERS_GROUP], roles,
                                          created_at=now))
                try:
                    origins = uow.repo(ORIGINS)
                except KeyError:
                    origins = None
                if origins is not None and user.id is not None:
                    origins.add(user.id, origin, method, now)
                uow.commit()
        except Exception:
            # a concurrent first login of the same person created the account
            with self.uow(readonly=True) as uow:
                existing = uow.users.by_name(name)
            if existing is None:
                raise
            return existing
        log.info("account %s created on first login (origin=%s, method=%s)", name, origin,
                 method)
        return user


class CloudPasswordAuthenticator:
    """The cloud database's own passwords, as a chain link that leaves unknown users (and
    accounts without a local password, e.g. created by an LDAP login) to the next links."""

    method = "password"

    def __init__(self, identity: IdentityService, uow: UnitOfWorkFactory):
        self.identity, self.uow = identity, uow

    def authenticate(self, credentials: Credentials) -> Principal | None:
        if credentials.username is None or credentials.password is None:
            return None
        with self.uow(readonly=True) as uow:
            user = uow.users.by_name(credentials.username)
        if user is None or not user.password_hash:
            return None
        try:
            return self.identity.check_password(credentials.username, credentials.password)
        except AuthenticationFailed:
            raise BadPassword(f"authentication failed: wrong password for user "
                                       f"{credentials.username}",
                                       hint="check the password given to the client") from None
