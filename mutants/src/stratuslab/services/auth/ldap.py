"""LDAP password authenticator: a bind as the user, groups from LDAP groups.

Membership of the `cloud-access` group (or `admin`) becomes the role of the same name, every
group becomes a Principal group.  The directory is the core port (drivers/identity/ldap.py);
this module imports only core.
"""

from __future__ import annotations

from stratuslab.core.auth import Credentials
from stratuslab.core.directory import AccountStatus, Directory
from stratuslab.core.entities import Principal, Role
from stratuslab.core.errors import AuthenticationFailed
from stratuslab.services.auth.common import BadPassword, UserResolver, resolve

_ROLES = frozenset(r.value for r in Role)


class LdapAuthenticator:
    """Returns None for uids the directory does not hold."""

    method = "ldap"

    def __init__(self, directory: Directory, resolve_user: UserResolver):
        self.directory = directory
        self.resolve_user = resolve_user

    def authenticate(self, credentials: Credentials) -> Principal | None:
        if credentials.username is None or credentials.password is None:
            return None
        person = self.directory.find_user(credentials.username)
        if person is None:
            return None
        if not self.directory.check_password(credentials.username, credentials.password):
            raise BadPassword(f"wrong password for LDAP user {person.uid}",
                                       hint="check the password given to the client")
        if person.status is AccountStatus.PENDING:
            raise AuthenticationFailed(
                f"the registration of {person.uid} is still pending",
                hint="wait for the administrator's approval email",
            )
        groups = self.directory.groups_of(person)
        return resolve(self.resolve_user, person.uid, self.method,
                       groups=[g for g in groups if g not in _ROLES],
                       roles=[g for g in groups if g in _ROLES])
