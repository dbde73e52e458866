"""What every authenticator shares: the user-resolver callable and principal merging.

Authenticators prove an identity; the cloud's user table (services/identity, wired by the lead)
turns a proven name into a Principal through `resolve_user`.  Imports only core.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from stratuslab.core.entities import Principal
from stratuslab.core.errors import AuthenticationFailed


class BadPassword(AuthenticationFailed):
    """A password link knows the user and the password is wrong.  The chain answers it with
    the same message as an unknown user (the link's own message goes to the audit line)."""


#: name proven by an authenticator -> the cloud's Principal for it (None: unknown to the cloud)
UserResolver = Callable[[str], Principal | None]
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def resolve(resolve_user: UserResolver, name: str, method: str, *,
            groups: Iterable[str] = (), roles: Iterable[str] = ()) -> Principal:
    """Resolve `name` and add what the authentication source says about groups and roles."""
    principal = resolve_user(name)
    if principal is None:
        raise AuthenticationFailed(
            f"user {name} proved their identity by {method} but has no account in this cloud",
            hint="ask an administrator to create the account (or approve the registration)",
        )
    merged_groups = list(principal.groups)
    merged_groups += [g for g in groups if g not in merged_groups]
    return dataclasses.replace(principal, groups=tuple(merged_groups),
                               roles=principal.roles | frozenset(roles), method=method)
