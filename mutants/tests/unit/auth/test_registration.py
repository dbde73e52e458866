from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from stratuslab.core.directory import AccountStatus, DirectoryUser, NewDirectoryUser
from stratuslab.core.entities import Principal
from stratuslab.core.errors import Conflict, Forbidden, InvalidInput, NotFound, QuotaExceeded
from stratuslab.services.auth.registration import (
    RECEIVED,
    Application,
    RateLimiter,
    RegistrationConfig,
    RegistrationService,
    password_problem,
)

ADMIN = Principal("root", 0, (), frozenset({"admin"}))
ALICE_DN = "/DC=eu/DC=stratuslab/O=Test/CN=Alice Example"
GOOD = Application("alice_1", "alice@example.org", "Alice", "Example", "S3cret-pw",
                   "S3cret-pw", ALICE_DN, "hello", (b"alice's certificate",))


def prove(chain: tuple[bytes, ...]) -> str:
    """Stand-in for CertificateProof.dn_of: the one certificate this test knows."""
    assert chain == (b"alice's certificate",)
    return ALICE_DN


@dataclass
class FakeDirectory:
    """In-memory Directory port: stores entries and group memberships."""

    users: dict[str, DirectoryUser] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    groups: dict[str, set[str]] = field(default_factory=dict)

    def add_pending_user(self, new: NewDirectoryUser) -> DirectoryUser:
        if new.uid in self.users:
            raise Conflict(f"{new.uid} exists")
        user = DirectoryUser(new.uid, f"uid={new.uid},ou=users", new.mail, new.given_name,
                             new.surname, (new.cert_dn,) if new.cert_dn else (),
                             AccountStatus.PENDING, new.message)
        self.users[new.uid], self.passwords[new.uid] = user, new.password
        return user

    def find_user(self, uid: str) -> DirectoryUser | None:
        return self.users.get(uid)

    def list_users(self, status=None):
        return [u for u in self.users.values() if status is None or u.status is status]

    def set_status(self, uid: str, status: AccountStatus) -> None:
        self.users[uid] = replace(self.users[uid], status=status)

    def add_to_group(self, uid: str, group: str) -> None:
        self.groups.setdefault(group, set()).add(uid)

    def delete_user(self, uid: str) -> None:
        del self.users[uid]


@dataclass
class FakeMailer:
    sent: list[tuple[str, str, str]] = field(default_factory=list)

    def send(self, to: str, subject: str, body: str) -> None:
        self.sent.append((to, subject, body))


@pytest.fixture
def parts():
    now = [0.0]
    directory, mailer = FakeDirectory(), FakeMailer()
    service = RegistrationService(directory, mailer, RegistrationConfig("admin@example.org"),
                                  limiter=RateLimiter(3, 600, lambda: now[0]),
                                  account_exists=lambda name: name == "cloud_user",
                                  prove_certificate=prove)
    return service, directory, mailer, now


def test_application_lands_pending_and_admin_is_mailed(parts) -> None:
    service, directory, mailer, _ = parts
    assert service.apply(GOOD, source="192.0.2.1") == RECEIVED
    entry = directory.users["alice_1"]
    assert entry.status is AccountStatus.PENDING
    assert entry.cert_dns == ("CN=Alice Example,O=Test,DC=stratuslab,DC=eu",)
    to, subject, body = mailer.sent[-1]
    assert to == "admin@example.org" and "alice_1" in subject and "hello" in body


def test_existing_uid_gets_the_same_answer_and_changes_nothing(parts) -> None:
    service, directory, mailer, _ = parts
    service.apply(GOOD, source="192.0.2.1")
    other = replace(GOOD, email="mallory@example.org")
    assert service.apply(other, source="192.0.2.2") == RECEIVED
    assert directory.users["alice_1"].mail == "alice@example.org" and len(mailer.sent) == 1


@pytest.mark.parametrize("field_name,value,problem", [
    ("uid", "al", "3 to 20"), ("uid", "al ice", "3 to 20"), ("uid", "a" * 21, "3 to 20"),
    ("email", "nope", "email"), ("surname", " ", "required"),
    ("password", "short1A", "8 to 20"), ("password", "alllowercase", "three of"),
    ("password", "abcdefgh12", "three of"), ("cert_dn", "garbage", "certificate DN"),
])
def test_invalid_applications_are_refused_with_the_reason(parts, field_name, value,
                                                           problem) -> None:
    service = parts[0]
    app = replace(GOOD, **{field_name: value, "password_check": None})
    with pytest.raises(InvalidInput, match=problem):
        service.apply(app, source="192.0.2.1")


def test_password_containing_the_uid_is_weak() -> None:
    assert password_problem("Xalice_1!9", "alice_1") == "the password is too easy to guess"


def test_applications_are_rate_limited_per_source(parts) -> None:
    service, _, _, now = parts
    for i in range(3):
        service.apply(replace(GOOD, uid=f"user{i}"), source="203.0.113.5")
    with pytest.raises(QuotaExceeded):
        service.apply(replace(GOOD, uid="user9"), source="203.0.113.5")
    service.apply(replace(GOOD, uid="user9"), source="203.0.113.6")
    now[0] = 601.0
    service.apply(replace(GOOD, uid="user10"), source="203.0.113.5")


def test_approval_grants_cloud_access_and_mails_the_person(parts) -> None:
    service, directory, mailer, _ = parts
    service.apply(GOOD, source="192.0.2.1")
    assert [u.uid for u in service.pending(ADMIN)] == ["alice_1"]
    assert service.approve("alice_1", admin=ADMIN) is True
    assert directory.users["alice_1"].status is AccountStatus.ACTIVE
    assert directory.groups["cloud-access"] == {"alice_1"}
    assert mailer.sent[-1][0] == "alice@example.org" and "approved" in mailer.sent[-1][1]
    with pytest.raises(NotFound):
        service.approve("alice_1", admin=ADMIN)


def test_rejection_deletes_the_entry_and_mails_the_reason(parts) -> None:
    service, directory, mailer, _ = parts
    service.apply(GOOD, source="192.0.2.1")
    service.reject("alice_1", admin=ADMIN, reason="unknown lab")
    assert "alice_1" not in directory.users
    assert "NOT approved" in mailer.sent[-1][2] and "unknown lab" in mailer.sent[-1][2]


def test_only_admins_decide(parts) -> None:
    service = parts[0]
    service.apply(GOOD, source="192.0.2.1")
    with pytest.raises(Forbidden):
        service.approve("alice_1", admin=Principal("bob", 2, (), frozenset({"cloud-access"})))
