"""LDAP bind login, groups, seeAlso certificate mapping, against a real slapd."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from stratuslab.core.auth import Credentials
from stratuslab.core.directory import AccountStatus, NewDirectoryUser
from stratuslab.core.entities import Principal
from stratuslab.core.errors import AuthenticationFailed, Conflict, Unavailable
from stratuslab.drivers.identity.ldap import LdapConfig, LdapDirectory
from stratuslab.services.auth.certificates import DirectoryDnMapper, X509Authenticator
from stratuslab.services.auth.chain import AuthenticatorChain, AuthEvent
from stratuslab.services.auth.ldap import LdapAuthenticator
from stratuslab.services.auth.x509 import CaDirectory, issue

pytestmark = pytest.mark.integration


def cloud_users(name: str) -> Principal | None:
    """Stand-in for the identity service: every LDAP person is cloud user 7 (named fake)."""
    return Principal(name, 7, (), frozenset({"user"}))


@pytest.mark.parametrize("mode", ["template", "search"])
def test_ldap_bind_login_yields_groups_and_cloud_access(slapd, mode) -> None:
    config = slapd.config(user_dn_template=None) if mode == "search" else slapd.config()
    audit: list[AuthEvent] = []
    chain = AuthenticatorChain([LdapAuthenticator(LdapDirectory(config), cloud_users)],
                               audit.append)
    principal = chain.authenticate(Credentials(source="127.0.0.1", username="alice",
                                               password="Alice-pw1"))
    assert principal.method == "ldap" and "cloud-access" in principal.roles
    assert "physics" in principal.groups
    assert audit[-1].line().startswith("auth success method=ldap identity='alice'")


def test_wrong_ldap_password_fails_with_an_audit_line(slapd) -> None:
    audit: list[AuthEvent] = []
    chain = AuthenticatorChain([LdapAuthenticator(LdapDirectory(slapd.config()), cloud_users)],
                               audit.append)
    for password in ("wrong", ""):
        with pytest.raises(AuthenticationFailed, match="unknown user name or wrong password"):
            chain.authenticate(Credentials(source="127.0.0.2", username="alice",
                                           password=password))
        assert not audit[-1].success and audit[-1].source == "127.0.0.2"
        assert "wrong password for LDAP user alice" in audit[-1].reason  # the admin sees it


def test_unknown_ldap_user_is_left_to_other_links(slapd) -> None:
    link = LdapAuthenticator(LdapDirectory(slapd.config()), cloud_users)
    assert link.authenticate(Credentials(username="nobody", password="x")) is None


def test_template_only_config_binds_without_service_account(slapd) -> None:
    directory = LdapDirectory(LdapConfig(slapd.url, "uid={user},ou=users,o=cloud"))
    assert directory.check_password("alice", "Alice-pw1")
    assert not directory.check_password("alice", "nope")


def test_certificate_dn_maps_to_the_person_through_see_also(slapd, tmp_path) -> None:
    now = datetime.now(UTC)
    ca = issue.make_ca("/DC=eu/DC=stratuslab/CN=Test CA", now)
    alice = issue.issue_cert(ca, "/DC=eu/DC=stratuslab/O=Test/CN=Alice Example", now)
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem())
    link = X509Authenticator(CaDirectory(tmp_path),
                             DirectoryDnMapper(LdapDirectory(slapd.config())), cloud_users)
    proxy = issue.make_proxy(alice, now)
    chain = (proxy.cert.public_bytes(Encoding.DER), alice.cert.public_bytes(Encoding.DER))
    principal = link.authenticate(Credentials(cert_chain=chain))
    assert principal is not None and principal.user == "alice"


def test_pending_entry_cannot_log_in_and_duplicates_conflict(slapd) -> None:
    directory = LdapDirectory(slapd.config())
    new = NewDirectoryUser("pat", "pat@example.org", "Pat", "Pending", "Pat-pw-123")
    directory.add_pending_user(new)
    with pytest.raises(Conflict):
        directory.add_pending_user(new)
    assert [u.uid for u in directory.list_users(AccountStatus.PENDING)] == ["pat"]
    link = LdapAuthenticator(directory, cloud_users)
    with pytest.raises(AuthenticationFailed, match="still pending"):
        link.authenticate(Credentials(username="pat", password="Pat-pw-123"))
    directory.delete_user("pat")
    assert directory.find_user("pat") is None


def test_unreachable_ldap_is_unavailable_not_a_wrong_password(slapd) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = LdapConfig(f"ldap://127.0.0.1:{port}", "uid={user},ou=users,o=cloud",
                        bind_dn="cn=admin,o=cloud", bind_password="secret", timeout=1.0)
    with pytest.raises(Unavailable, match="unreachable"):
        LdapAuthenticator(LdapDirectory(config), cloud_users).authenticate(
            Credentials(username="alice", password="Alice-pw1"))
