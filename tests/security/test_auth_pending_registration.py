"""Attacks through the directory: a *pending* registration that names a certificate one holds
and the uid `admin` answered `user admin, roles [admin]` on /cert without any approval; a
pending certificate registrant got `cloud-access`; a directory person named like a
database-only account logged into that account.

A real stratus-server with a real slapd, a test CA and a TLS listener.  Pending entries never
authenticate anything; a directory name never resolves to a database account that the directory
did not create.  (The module's server is reused by test_registration_*.py.)"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from ldap3 import HASHED_SALTED_SHA
from ldap3.utils.hashed import hashed
from tests.e2e.conftest import Server, free_port
from tests.integration.auth.conftest import (  # noqa: F401 - fixtures
    ROOT_DN,
    ROOT_PW,
    disk_pki,
    slapd,
)

from stratuslab.services.auth.x509 import issue
from stratuslab.services.auth.x509.dn import to_rfc4514

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CONFIG = """
[auth]
chain = ["ldap", "x509"]

[auth.ldap]
url = "{ldap}"
user_dn_template = "uid={{user}},ou=users,o=cloud"
search_base = "ou=users,o=cloud"
group_base = "ou=groups,o=cloud"
bind_dn = "{root_dn}"
bind_password = "{root_pw}"
timeout = 3

[auth.x509]
ca_dir = "{ca_dir}"

[tls]
listen = "127.0.0.1:{tls_port}"
cert = "{cert}"
key = "{key}"

[registration]
admin_email = "admin@example.org"
rate_limit = 1000

[mail]
host = "127.0.0.1"
port = {smtp_port}
timeout = 2
"""


@dataclass
class Holder:
    """Someone holding a certificate of the test CA."""

    dn: str  # slash form
    cert: Path
    key: Path


class DirServer(Server):
    tls_port: int = 0
    ca_file: str = ""
    slapd_url: str = ""
    pki_root: Path = Path()

    def https(self, path: str, holder: Holder | None = None, **kw: object) -> httpx.Response:
        context = ssl.create_default_context(cafile=self.ca_file)
        if holder:
            context.load_cert_chain(str(holder.cert), str(holder.key))
        with httpx.Client(verify=context, timeout=20) as client:
            return client.request(str(kw.pop("method", "GET")),
                                  f"https://127.0.0.1:{self.tls_port}{path}", **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def srv(slapd, disk_pki, tmp_path_factory) -> Iterator[DirServer]:  # noqa: F811
    base = tmp_path_factory.mktemp("sec-dir")
    tls_port = free_port()
    (base / "server.toml").write_text(CONFIG.format(
        ldap=slapd.url, root_dn=ROOT_DN, root_pw=ROOT_PW, ca_dir=disk_pki.ca_dir,
        tls_port=tls_port, cert=disk_pki.files["server_cert"],
        key=disk_pki.files["server_key"], smtp_port=free_port()))
    server = DirServer(base / "data", free_port(),
                       args=["--hypervisor", "simulated", "--config", str(base / "server.toml")])
    server.tls_port, server.ca_file = tls_port, str(disk_pki.files["ca"])
    server.pki_root = base
    server.start()
    try:
        yield server
    finally:
        server.stop()


def holder(srv: DirServer, disk_pki, name: str) -> Holder:  # noqa: F811
    dn = f"/DC=eu/DC=stratuslab/O=Test/CN={name}"
    issued = issue.issue_cert(disk_pki.ca, dn, disk_pki.now)
    cert, key = srv.pki_root / f"{name}-cert.pem", srv.pki_root / f"{name}-key.pem"
    cert.write_bytes(issued.cert_pem())
    key.write_bytes(issued.key_pem())
    return Holder(dn, cert, key)


def ldap_person(slapd, uid: str, *, pending: bool, dn: str | None = None,  # noqa: F811
                password: str = "Dir-pw-1!") -> str:
    """Put a person in the directory as registration (pending) or an admin (active) would."""
    entry = f"uid={uid},ou=users,o=cloud"
    attrs = {"uid": uid, "cn": uid, "sn": uid, "mail": f"{uid}@example.org",
             "userPassword": hashed(HASHED_SALTED_SHA, password)}
    if pending:
        attrs["employeeType"] = "pending"
    if dn:
        attrs["seeAlso"] = to_rfc4514(dn)
    conn = slapd.admin()
    conn.add(entry, ["inetOrgPerson"], attrs)
    assert conn.result["result"] == 0, conn.result
    conn.unbind()
    return entry


def ldap_remove(slapd, *entries: str) -> None:  # noqa: F811
    conn = slapd.admin()
    for entry in entries:
        conn.delete(entry)
    conn.unbind()


def test_pending_registration_naming_admin_and_a_held_certificate_is_not_admin(
        srv: DirServer, slapd, disk_pki) -> None:  # noqa: F811
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


def test_pending_certificate_registrant_gets_no_cloud_access(srv: DirServer, slapd,  # noqa: F811
                                                              disk_pki) -> None:  # noqa: F811
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
        srv: DirServer, slapd, disk_pki) -> None:  # noqa: F811
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
