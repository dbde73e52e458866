"""Ports for the user directory (LDAP) and outgoing mail, and the values they carry.

The directory holds people (uid, mail, names, certificate DNs in `seeAlso`) and groups
(`cloud-access` is the gate StratusLab required).  Drivers implement these ports
(drivers/identity/ldap.py, drivers/identity/mail.py); services receive them by constructor.
Only the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class AccountStatus(StrEnum):
    PENDING = "pending"  # applied through registration, not yet approved
    ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    uid: str
    dn: str
    mail: str | None = None
    given_name: str | None = None
    surname: str | None = None
    #: certificate subjects mapped to this person (LDAP `seeAlso`, RFC 4514 form)
    cert_dns: tuple[str, ...] = ()
    status: AccountStatus = AccountStatus.ACTIVE
    message: str | None = None  # the applicant's note to the administrator


@dataclass(frozen=True, slots=True)
class NewDirectoryUser:
    """A registration application as the directory stores it (password still in clear)."""

    uid: str
    mail: str
    given_name: str
    surname: str
    password: str
    cert_dn: str | None = None  # RFC 4514 form
    message: str | None = None


class Directory(Protocol):
    """A people-and-groups directory.  Network failures raise core.errors.Unavailable."""

    def check_password(self, uid: str, password: str) -> bool:
        """True when binding as `uid` with `password` succeeds (never for an empty password)."""
        ...

    def find_user(self, uid: str) -> DirectoryUser | None: ...

    def user_for_cert_dn(self, cert_dn: str) -> DirectoryUser | None:
        """The ACTIVE person whose `seeAlso` holds `cert_dn` (RFC 4514 form); pending
        registrations are never returned (None when no or several people hold it)."""
        ...

    def groups_of(self, user: DirectoryUser) -> tuple[str, ...]:
        """Names (cn) of the groups `user` is a member of."""
        ...

    def add_pending_user(self, new: NewDirectoryUser) -> DirectoryUser:
        """Create the entry in PENDING status; raise core.errors.Conflict when the uid is taken."""
        ...

    def list_users(self, status: AccountStatus | None = None) -> list[DirectoryUser]: ...

    def modify_user(self, uid: str, changes: Mapping[str, Sequence[str]]) -> None:
        """Replace attributes (directory attribute name -> values; empty list deletes)."""
        ...

    def set_status(self, uid: str, status: AccountStatus) -> None: ...

    def add_to_group(self, uid: str, group: str) -> None: ...

    def delete_user(self, uid: str) -> None: ...


class Mailer(Protocol):
    """Sends one plain-text message; failures raise core.errors.Unavailable."""

    def send(self, to: str, subject: str, body: str) -> None: ...
