"""Registration: people apply for an account; administrators approve or reject.

An application is validated (uid `^\\w{3,20}$`, email, names, optional certificate DN, password
8-20 non-blank characters passing a strength check), rate-limited per source address, and
stored in the directory as PENDING; the administrator is mailed.  The answer is the same whether
or not the uid was free, so the form cannot be used to enumerate accounts.  Approval activates
the entry, adds it to `cloud-access` and mails the person; rejection mails them and deletes the
entry.  Imports only core; the directory and the mailer arrive by constructor.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from stratuslab.core.directory import (
    AccountStatus,
    Directory,
    DirectoryUser,
    Mailer,
    NewDirectoryUser,
)
from stratuslab.core.entities import Principal, Role
from stratuslab.core.errors import CloudError, Conflict, InvalidInput, NotFound, QuotaExceeded
from stratuslab.services.auth.x509.dn import to_rfc4514
from stratuslab.services.policy import authorize_service

_UID = re.compile(r"^\w{3,20}$", re.ASCII)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PASSWORD = re.compile(r"^\S{8,20}$")
_COMMON = frozenset({"password", "password1", "12345678", "123456789", "qwertyuiop",
                     "iloveyou", "stratuslab", "letmein1", "abc12345", "passw0rd"})
RECEIVED = "application received; you will get an email once an administrator has decided"


@dataclass(frozen=True, slots=True)
class Application:
    uid: str
    email: str
    given_name: str
    surname: str
    password: str
    password_check: str | None = None  # the form's second copy; None from the REST API
    cert_dn: str | None = None
    message: str | None = None


def password_problem(password: str, uid: str) -> str | None:
    """Why `password` is too weak, or None."""
    if not _PASSWORD.match(password):
        return "the password must be 8 to 20 characters without spaces"
    classes = sum(bool(re.search(p, password)) for p in ("[a-z]", "[A-Z]", "[0-9]",
                                                         "[^A-Za-z0-9]"))
    if classes < 3:
        return "the password needs three of: lower case, upper case, digits, symbols"
    if uid.lower() in password.lower() or password.lower() in _COMMON:
        return "the password is too easy to guess"
    return None


def validate(app: Application) -> NewDirectoryUser:
    problems = []
    if not _UID.match(app.uid):
        problems.append("the user name must be 3 to 20 letters, digits or underscores")
    if not _EMAIL.match(app.email):
        problems.append("the email address is not valid")
    if not app.given_name.strip() or not app.surname.strip():
        problems.append("given name and surname are required")
    weak = password_problem(app.password, app.uid)
    if weak:
        problems.append(weak)
    if app.password_check is not None and app.password_check != app.password:
        problems.append("the two passwords differ")
    cert_dn = None
    if app.cert_dn and app.cert_dn.strip():
        try:
            cert_dn = to_rfc4514(app.cert_dn)
        except InvalidInput:
            problems.append("the certificate DN cannot be read (write /C=../O=../CN=..)")
    if problems:
        raise InvalidInput("registration refused: " + "; ".join(problems),
                           hint="correct the form and send it again")
    return NewDirectoryUser(app.uid, app.email.strip(), app.given_name.strip(),
                            app.surname.strip(), app.password, cert_dn,
                            (app.message or "").strip()[:1000] or None)


class RateLimiter:
    """At most `limit` events per `window` seconds per key (in memory, per server process)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]):
        self.limit, self.window, self.clock = limit, window, clock
        self._events: dict[str, deque[float]] = {}

    def hit(self, key: str) -> None:
        now = self.clock()
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) >= self.limit:
            raise QuotaExceeded(f"too many registration attempts from {key}",
                                hint=f"wait {self.window / 60:.0f} minutes and try again")
        events.append(now)
        if len(self._events) > 10_000:  # forget idle sources so memory stays bounded
            for stale in [k for k, v in self._events.items() if not v or v[-1] <= now - self.window]:
                del self._events[stale]


@dataclass(frozen=True, slots=True)
class RegistrationConfig:
    admin_email: str
    access_group: str = Role.CLOUD_ACCESS.value
    cloud_name: str = "StratusLab"
    base_url: str = ""  # where approvals are made, for the admin's mail


class RegistrationService:
    def __init__(self, directory: Directory, mailer: Mailer, config: RegistrationConfig, *,
                 limiter: RateLimiter, log: logging.Logger | None = None):
        self.directory, self.mailer, self.config = directory, mailer, config
        self.limiter = limiter
        self.log = log or logging.getLogger("stratuslab.audit")

    def apply(self, app: Application, *, source: str) -> str:
        """Store a valid application as pending; the same answer whether the uid is free."""
        self.limiter.hit(source)
        new = validate(app)
        try:
            self.directory.add_pending_user(new)
        except Conflict:
            self.log.warning("registration for existing uid=%s from source=%s ignored",
                             new.uid, source)
            return RECEIVED
        self.log.info("registration pending uid=%s source=%s", new.uid, source)
        self._mail(self.config.admin_email, f"[{self.config.cloud_name}] new registration: "
                   f"{new.uid}", _admin_body(new, self.config))
        return RECEIVED

    def pending(self, admin: Principal) -> list[DirectoryUser]:
        authorize_service(admin, "registration.approve")
        return self.directory.list_users(AccountStatus.PENDING)

    def _pending_user(self, uid: str) -> DirectoryUser:
        person = self.directory.find_user(uid)
        if person is None or person.status is not AccountStatus.PENDING:
            raise NotFound("pending registration", uid, listing="stratus list-registrations")
        return person

    def approve(self, uid: str, *, admin: Principal) -> bool:
        """Activate and grant cloud access; True when the person could be mailed."""
        authorize_service(admin, "registration.approve")
        person = self._pending_user(uid)
        self.directory.set_status(uid, AccountStatus.ACTIVE)
        self.directory.add_to_group(uid, self.config.access_group)
        self.log.info("registration approved uid=%s by=%s", uid, admin.user)
        return self._mail(person.mail, f"[{self.config.cloud_name}] account approved",
                          f"Dear {person.given_name},\n\nThe administrator has approved your "
                          f"account '{uid}'. You can now log in.\n")

    def reject(self, uid: str, *, admin: Principal, reason: str = "") -> bool:
        authorize_service(admin, "registration.approve")
        person = self._pending_user(uid)
        self.directory.delete_user(uid)
        self.log.info("registration rejected uid=%s by=%s", uid, admin.user)
        note = f"\nReason: {reason}\n" if reason else ""
        return self._mail(person.mail, f"[{self.config.cloud_name}] account not approved",
                          f"Dear {person.given_name},\n\nThe administrator has NOT approved "
                          f"your account '{uid}'.{note}\nContact {self.config.admin_email} "
                          "for more information.\n")

    def _mail(self, to: str | None, subject: str, body: str) -> bool:
        if not to:
            return False
        try:
            self.mailer.send(to, subject, body)
        except CloudError as exc:  # the decision stands; the admin sees the warning
            self.log.warning("mail to %s failed: %s", to, exc.message)
            return False
        return True


def _admin_body(new: NewDirectoryUser, config: RegistrationConfig) -> str:
    lines = [f"A new user has registered: uid={new.uid}, email={new.mail}",
             f"Name: {new.given_name} {new.surname}"]
    if new.cert_dn:
        lines.append(f"Certificate DN: {new.cert_dn}")
    if new.message:
        lines.append(f"Message: {new.message}")
    where = config.base_url.rstrip("/")
    lines.append(f"Approve: stratus approve-registration {new.uid}"
                 + (f"  (or POST {where}/api/v1/registrations/{new.uid}/approve)"
                    if where else ""))
    return "\n".join(lines) + "\n"
