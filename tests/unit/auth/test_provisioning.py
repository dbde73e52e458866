"""Cloud accounts for people proven elsewhere, the local password link, and the classic
/pswd and /cert endpoints, on the real cloud database of the in-process `cloud` fixture.
The LDAP directory is an in-memory stand-in here (tests/integration/auth and tests/e2e use a
real slapd)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient

from stratuslab.core.auth import Credentials
from stratuslab.core.commands import RunInstance
from stratuslab.core.directory import AccountStatus, DirectoryUser, NewDirectoryUser
from stratuslab.core.errors import AuthenticationFailed, Forbidden
from stratuslab.services.auth.provisioning import ORIGINS, CloudPasswordAuthenticator, CloudUsers


@dataclass
class MemoryDirectory:
    """Stand-in for the LDAP directory: people and their groups."""

    people: dict[str, DirectoryUser] = field(default_factory=dict)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def add(self, uid: str, *groups: str, status: AccountStatus = AccountStatus.ACTIVE) -> None:
        self.people[uid] = DirectoryUser(uid, f"uid={uid},o=cloud", status=status)
        self.groups[uid] = groups

    def find_user(self, uid: str) -> DirectoryUser | None:
        return self.people.get(uid)

    def groups_of(self, user: DirectoryUser) -> tuple[str, ...]:
        return self.groups.get(user.uid, ())

    def check_password(self, uid: str, password: str) -> bool:
        raise NotImplementedError

    def user_for_cert_dn(self, cert_dn: str) -> DirectoryUser | None:
        raise NotImplementedError

    def add_pending_user(self, new: NewDirectoryUser) -> DirectoryUser:
        raise NotImplementedError

    def list_users(self, status: AccountStatus | None = None) -> list[DirectoryUser]:
        raise NotImplementedError

    def modify_user(self, uid: str, changes: Mapping[str, Sequence[str]]) -> None:
        raise NotImplementedError

    def set_status(self, uid: str, status: AccountStatus) -> None:
        raise NotImplementedError

    def add_to_group(self, uid: str, group: str) -> None:
        raise NotImplementedError

    def delete_user(self, uid: str) -> None:
        raise NotImplementedError


@pytest.fixture
def directory() -> MemoryDirectory:
    d = MemoryDirectory()
    d.add("alice", "cloud-access", "physics")
    d.add("dave", "physics")
    return d


def origin_of(cloud, name: str):  # type: ignore[no-untyped-def]
    with cloud.uow(readonly=True) as uow:
        user = uow.users.by_name(name)
        return user, uow.repo(ORIGINS).get(user.id) if user else None


def test_directory_person_with_cloud_access_gets_an_account_once(cloud, directory) -> None:
    users = CloudUsers(cloud.uow, cloud.clock, directory=directory)
    first = users.resolver("ldap")("alice")
    assert first is not None and first.user_id > 0 and first.method == "ldap"
    user, origin = origin_of(cloud, "alice")
    assert user.password_hash is None and (origin["origin"], origin["method"]) == ("ldap", "ldap")
    again = users.resolver("x509")("alice")  # the certificate login finds the same account
    assert again is not None and again.user_id == first.user_id
    assert "cloud-access" in again.roles  # read from the directory at every certificate login


def test_directory_person_without_cloud_access_gets_no_account_and_no_vms(cloud,
                                                                          directory) -> None:
    users = CloudUsers(cloud.uow, cloud.clock, directory=directory)
    dave = users.resolver("ldap")("dave")
    assert dave is not None and dave.user_id == 0 and not dave.roles
    assert origin_of(cloud, "dave")[0] is None
    with pytest.raises(Forbidden, match="dave has no cloud access"):
        cloud.compute.run(dave, RunInstance(image_id=1))


def test_directory_without_groups_grants_access_to_its_people(cloud, directory) -> None:
    users = CloudUsers(cloud.uow, cloud.clock, directory=directory,
                       directory_grants_access=True)
    dave = users.resolver("ldap")("dave")
    assert dave is not None and dave.user_id > 0 and "cloud-access" in dave.roles


def test_gridmap_mapped_certificate_gets_an_account_with_cloud_access(cloud) -> None:
    users = CloudUsers(cloud.uow, cloud.clock)
    carol = users.resolver("x509")("carol")
    assert carol is not None and "cloud-access" in carol.roles
    assert origin_of(cloud, "carol")[1]["origin"] == "x509"


def test_disabled_or_uncreatable_accounts_resolve_to_nobody(cloud) -> None:
    with cloud.uow() as uow:
        admin = uow.users.by_name("admin")
        admin.enabled = False
        uow.users.update(admin)
        uow.commit()
    assert CloudUsers(cloud.uow, cloud.clock).resolver("password")("admin") is None
    assert CloudUsers(cloud.uow, cloud.clock,
                      create=False).resolver("voms")("vo:x") is None


def test_local_password_link_leaves_unknown_and_passwordless_users_to_the_next(cloud) -> None:
    link = CloudPasswordAuthenticator(cloud.identity, cloud.uow)
    assert link.authenticate(Credentials(username="nobody", password="x")) is None
    CloudUsers(cloud.uow, cloud.clock).resolver("voms")("vo:x")
    assert link.authenticate(Credentials(username="vo:x", password="x")) is None
    assert link.authenticate(Credentials(username="admin", password="adminpw")).user == "admin"
    with pytest.raises(AuthenticationFailed, match="wrong password for user admin"):
        link.authenticate(Credentials(username="admin", password="nope"))


def test_classic_endpoints_restrict_the_method_and_audit_once(cloud, caplog) -> None:
    caplog.set_level(logging.INFO, logger="stratuslab.audit")
    with TestClient(cloud.app) as client:
        ok = client.get("/pswd/api/v1/whoami", auth=("admin", "adminpw"))
        assert ok.status_code == 200 and ok.json()["user"] == "admin"
        assert len([r for r in caplog.records if "auth success" in r.message]) == 1
        wrong = client.get("/pswd/api/v1/whoami", auth=("admin", "bad"))
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Basic")
        assert "auth failure method=password identity='admin'" in caplog.records[-1].message
        no_cert = client.get("/cert/api/v1/whoami", auth=("admin", "adminpw"))
        assert no_cert.status_code == 401
        assert "needs a client certificate" in no_cert.json()["error"]["message"]
        assert "reason='no credentials'" in caplog.records[-1].message
        nothing = client.get("/pswd/api/v1/whoami")
        assert nothing.status_code == 401 and "needs a user name" in nothing.text
