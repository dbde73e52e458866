"""Registration: people apply for an account; administrators approve or reject.

An application is validated (uid `^\\w{3,20}$`, email, names, optional certificate DN, password
8-20 non-blank characters passing a strength check), rate-limited per source address, and
stored in the directory as PENDING; the administrator is mailed.  The answer is the same whether
or not the uid was free, so the form cannot be used to enumerate accounts; a uid that the cloud
database already holds (an administrator's or a certificate user's account) is never stored,
and approval refuses it too.  A certificate DN is bound only when the registration request
itself presents that certificate over TLS (proof of possession); a pending entry never maps a
certificate nor authenticates (see drivers/identity/ldap and services/auth/provisioning).
Approval activates the entry, adds it to `cloud-access` and mails the person; rejection mails
them and deletes the entry.  Imports only core; the directory and the mailer arrive by
constructor.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from stratuslab.core.directory import (
    AccountStatus,
    Directory,
    DirectoryUser,
    Mailer,
    NewDirectoryUser,
)
from stratuslab.core.entities import Principal, Role
from stratuslab.core.errors import CloudError, Conflict, InvalidInput, NotFound, QuotaExceeded
from stratuslab.services.auth.x509.dn import normalise_dn, to_rfc4514
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
    #: the TLS client chain of the registration request: the only proof of holding `cert_dn`
    cert_chain: tuple[bytes, ...] = ()


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


#: does the cloud database already hold an account of that name?
AccountExists = Callable[[str], bool]
#: the verified end-entity DN of a client chain (AuthenticationFailed when it does not verify)
ProveCertificate = Callable[[tuple[bytes, ...]], str]

CERT_HINT = ("connect to the registration page over HTTPS with that certificate (or a proxy of"
             " it) in your browser or client; the DN is taken from it")


@dataclass(frozen=True, slots=True)
class RegistrationConfig:
    admin_email: str
    access_group: str = Role.CLOUD_ACCESS.value
    cloud_name: str = "StratusLab"
    base_url: str = ""  # where approvals are made, for the admin's mail


class RegistrationService:
    def __init__(self, directory: Directory, mailer: Mailer, config: RegistrationConfig, *,
                 limiter: RateLimiter, account_exists: AccountExists,
                 prove_certificate: ProveCertificate | None = None,
                 log: logging.Logger | None = None):
        """`account_exists` asks the cloud database (a uid it holds is never registrable);
        `prove_certificate` verifies the request's client chain (None: no CA configured, so
        no certificate can be bound at registration)."""
        self.directory, self.mailer, self.config = directory, mailer, config
        self.limiter, self.account_exists = limiter, account_exists
        self.prove_certificate = prove_certificate
        self.log = log or logging.getLogger("stratuslab.audit")

    def _proven_dn(self, app: Application, claimed: str) -> str:
        """`claimed` (RFC 4514) when the request's own certificate proves it, else refuse."""
        if self.prove_certificate is None:
            raise InvalidInput("registration refused: this cloud cannot register certificates"
                               " (no certificate authorities are configured)",
                               hint="leave the certificate DN empty")
        if not app.cert_chain:
            raise InvalidInput(f"registration refused: the certificate DN {claimed} can only be"
                               " registered by presenting that certificate", hint=CERT_HINT)
        try:
            proven = to_rfc4514(self.prove_certificate(app.cert_chain))
        except CloudError as exc:
            raise InvalidInput(f"registration refused: the certificate presented does not"
                               f" verify: {exc.message}", hint=CERT_HINT) from exc
        if normalise_dn(proven) != normalise_dn(claimed):
            raise InvalidInput(f"registration refused: the certificate presented is {proven},"
                               f" not {claimed}", hint=CERT_HINT)
        return proven

    def apply(self, app: Application, *, source: str) -> str:
        """Store a valid application as pending; the same answer whether the uid is free."""
        self.limiter.hit(source)
        new = validate(app)
        if new.cert_dn:
            new = replace(new, cert_dn=self._proven_dn(app, new.cert_dn))
        if self.account_exists(new.uid):
            self.log.warning("registration for uid=%s refused: the cloud database already has"
                             " that account; source=%s", new.uid, source)
            return RECEIVED
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
            raise NotFound("pending registration", uid, listing="stratus registration list")
        return person

    def approve(self, uid: str, *, admin: Principal) -> bool:
        """Activate and grant cloud access; True when the person could be mailed."""
        authorize_service(admin, "registration.approve")
        person = self._pending_user(uid)
        if self.account_exists(uid):  # made in the database since the application
            raise Conflict(f"cannot approve {uid}: the cloud already has an account {uid}"
                           " that this person does not own",
                           hint=f"reject it: stratus registration reject {uid} --reason"
                                " 'user name taken'")
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
    lines.append(f"Approve: stratus registration approve {new.uid}")
    lines.append(f"Reject:  stratus registration reject {new.uid} --reason TEXT")
    if where:
        lines.append(f"Or on the web: {where}/register/admin")
    return "\n".join(lines) + "\n"
