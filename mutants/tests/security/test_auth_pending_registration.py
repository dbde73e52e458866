"""Attacks through the directory: a *pending* registration that names a certificate one holds
and the uid `admin` answered `user admin, roles [admin]` on /cert without any approval; a
pending certificate registrant got `cloud-access`; a directory person named like a
database-only account logged into that account.

A real stratus-server with a real slapd, a test CA and a TLS listener.  Pending entries never
authenticate anything; a directory name never resolves to a database account that the directory
did not create."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.helpers.dirlab import DirServer, dir_server, holder, ldap_person, ldap_remove

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def srv(slapd, disk_pki, tmp_path_factory) -> Iterator[DirServer]:  # type: ignore[no-untyped-def]
    with dir_server(slapd, disk_pki, tmp_path_factory.mktemp("sec-dir")) as server:
        yield server


def test_pending_registration_naming_admin_and_a_held_certificate_is_not_admin(
        srv: DirServer, slapd, disk_pki) -> None:
    mallory = holder(srv, disk_pki, "Mallory Pending")
    # the attack as it was made: an anonymous application, over TLS with her own certificate
    applied = srv.https("/api/v1/registrations", mallory, method="POST", json={
        "uid": "admin", "email": "m@example.org", "given_name": "M", "surname": "M",
        "password": "Zq7-secret!9", "cert_dn": mallory.dn})
    assert applied.status_code == 202
    whoami = srv.https("/cert/api/v1/whoami", mallory)
    assert whoami.status_code == 401, whoami.text
    # and a pending entry that does name her DN (e.g. left from before) proves nothing either
    entries = []
    try:
        conn = slapd.admin()
        conn.delete("uid=admin,ou=users,o=cloud")  # whatever the application may have stored
        conn.unbind()
        entries.append(ldap_person(slapd, "admin", pending=True, dn=mallory.dn))
        whoami = srv.https("/cert/api/v1/whoami", mallory)
        assert whoami.status_code == 401, whoami.text
        assert "admin" not in whoami.json().get("roles", [])
        users = srv.https("/api/v1/users", mallory, method="POST",
                          json={"name": "evil", "password": "evil-pw1", "admin": True})
        assert users.status_code == 401
    finally:
        ldap_remove(slapd, *entries)


def test_pending_certificate_registrant_gets_no_cloud_access(srv: DirServer, slapd,
                                                              disk_pki) -> None:
    pat = holder(srv, disk_pki, "Pat Pending")
    entry = ldap_person(slapd, "pat", pending=True, dn=pat.dn)
    try:
        whoami = srv.https("/cert/api/v1/whoami", pat)
        assert whoami.status_code == 401, whoami.text
        vms = srv.https("/api/v1/vms", pat, method="POST", json={"image": 1})
        assert vms.status_code == 401
        login = httpx.get(srv.endpoint + "/api/v1/whoami", auth=("pat", "Dir-pw-1!"))
        assert login.status_code == 401 and "pending" in login.text
    finally:
        ldap_remove(slapd, entry)


def test_directory_person_does_not_take_the_database_account_of_the_same_name(
        srv: DirServer, slapd, disk_pki) -> None:
    srv.cli("user", "create", "carl", "--password", "Carl-db-pw1")  # a database-only account
    carl_ldap = holder(srv, disk_pki, "Carl Directory")
    entry = ldap_person(slapd, "carl", pending=False, dn=carl_ldap.dn)
    try:
        by_password = httpx.get(srv.endpoint + "/api/v1/whoami", auth=("carl", "Dir-pw-1!"))
        assert by_password.status_code == 401, by_password.text
        by_cert = srv.https("/cert/api/v1/whoami", carl_ldap)
        assert by_cert.status_code == 401, by_cert.text
        assert "not the owner of the cloud account carl" in by_cert.text
        # the database's own carl is untouched
        own = httpx.get(srv.endpoint + "/api/v1/whoami", auth=("carl", "Carl-db-pw1"))
        assert own.status_code == 200 and own.json()["method"] == "password"
    finally:
        ldap_remove(slapd, entry)
