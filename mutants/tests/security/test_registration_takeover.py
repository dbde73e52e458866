"""Attacks through registration: applying for the uid of an existing database account (a
certificate user's, approved without a warning, then reading their volumes), claiming someone
else's certificate DN (a pending claim locked the holder out), and admin mails naming commands
that do not exist.

A uid the cloud database holds is never stored nor approvable; a DN is bound only when the
registration request itself presents that certificate over TLS; a pending claim never affects
the holder."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner
from tests.helpers.dirlab import DirServer, dir_server, holder, ldap_person, ldap_remove

from stratuslab.cli.main import cli
from stratuslab.services.auth.registration import (
    Application,
    RateLimiter,
    RegistrationConfig,
    RegistrationService,
)
from stratuslab.services.auth.x509.dn import normalise_dn

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def srv(slapd, disk_pki, tmp_path_factory) -> Iterator[DirServer]:  # type: ignore[no-untyped-def]
    with dir_server(slapd, disk_pki, tmp_path_factory.mktemp("sec-reg")) as server:
        yield server


APPLICATION = {"email": "x@example.org", "given_name": "X", "surname": "Y",
               "password": "Zq7-secret!9"}


def test_registration_of_a_database_uid_is_never_stored_nor_approved(
        srv: DirServer, slapd) -> None:
    srv.cli("user", "create", "quinn", "--password", "Quinn-db-pw1")
    taken = httpx.post(srv.endpoint + "/api/v1/registrations", json={**APPLICATION,
                                                                     "uid": "quinn"})
    free = httpx.post(srv.endpoint + "/api/v1/registrations", json={**APPLICATION,
                                                                    "uid": "rosa"})
    assert taken.status_code == free.status_code == 202 and taken.json() == free.json()
    pending = [p["uid"] for p in srv.cli_json("registration", "list")]
    assert "quinn" not in pending and "rosa" in pending
    srv.cli("registration", "reject", "rosa")
    # an entry made some other way (or before the account existed) cannot be approved
    entry = ldap_person(slapd, "quinn", pending=True)
    try:
        approve = srv.cli("registration", "approve", "quinn", check=False)
        assert approve.returncode != 0
        assert "already has an account quinn" in approve.stderr
        assert "stratus registration reject quinn" in approve.stderr
    finally:
        ldap_remove(slapd, entry)


def test_dn_claim_without_the_certificate_is_refused(srv: DirServer, disk_pki) -> None:
    alice_dn = "/DC=eu/DC=stratuslab/O=Test/CN=Alice Example"
    plain = httpx.post(srv.endpoint + "/api/v1/registrations",
                       json={**APPLICATION, "uid": "mallet", "cert_dn": alice_dn})
    assert plain.status_code == 400 and "presenting that certificate" in plain.text
    mallory = holder(srv, disk_pki, "Mallory Claimer")
    other = srv.https("/api/v1/registrations", mallory, method="POST",
                      json={**APPLICATION, "uid": "mallet", "cert_dn": alice_dn})
    assert other.status_code == 400 and mallory.dn.split("CN=")[1] in other.text
    form = srv.https("/register", mallory, method="POST", data={
        **APPLICATION, "uid": "mallet", "password_check": APPLICATION["password"],
        "agreement": "yes", "cert_dn": alice_dn})
    assert form.status_code == 400
    assert "mallet" not in [p["uid"] for p in srv.cli_json("registration", "list")]


def test_pending_claim_of_a_dn_never_locks_out_its_holder(srv: DirServer, slapd,
                                                          disk_pki) -> None:
    sam = holder(srv, disk_pki, "Sam Holder")
    held = ldap_person(slapd, "sam", pending=False, dn=sam.dn)
    claim = ldap_person(slapd, "samclaim", pending=True, dn=sam.dn)
    try:
        conn = slapd.admin()
        conn.modify("cn=cloud-access,ou=groups,o=cloud",
                    {"uniqueMember": [("MODIFY_ADD", ["uid=sam,ou=users,o=cloud"])]})
        conn.unbind()
        whoami = srv.https("/cert/api/v1/whoami", sam)
        assert whoami.status_code == 200, whoami.text
        assert whoami.json()["user"] == "sam"
    finally:
        ldap_remove(slapd, claim, held)


def test_registration_over_tls_with_the_certificate_binds_its_dn(
        srv: DirServer, disk_pki) -> None:
    tina = holder(srv, disk_pki, "Tina Proven")
    applied = srv.https("/api/v1/registrations", tina, method="POST",
                        json={**APPLICATION, "uid": "tina", "cert_dn": tina.dn})
    assert applied.status_code == 202, applied.text
    [row] = [p for p in srv.cli_json("registration", "list") if p["uid"] == "tina"]
    assert [normalise_dn(dn) for dn in row["cert_dns"]] == [tina.dn]
    assert srv.https("/cert/api/v1/whoami", tina).status_code == 401  # pending: nothing yet
    srv.cli("registration", "approve", "tina")
    whoami = srv.https("/cert/api/v1/whoami", tina)
    assert whoami.status_code == 200 and whoami.json()["user"] == "tina", whoami.text


class _Mailer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def send(self, to: str, subject: str, body: str) -> None:
        self.sent.append((to, subject, body))


class _Directory:
    """The little of the Directory port that `apply` uses."""

    def add_pending_user(self, new):  # type: ignore[no-untyped-def]
        return new


def test_admin_mail_names_commands_that_exist() -> None:
    mailer = _Mailer()
    service = RegistrationService(
        _Directory(), mailer,  # type: ignore[arg-type]
        RegistrationConfig("admin@example.org", base_url="https://cloud.example.org"),
        limiter=RateLimiter(5, 60, lambda: 0.0), account_exists=lambda name: False)
    service.apply(Application("walt", "w@example.org", "W", "W", "Zq7-secret!9"), source="x")
    body = mailer.sent[-1][2]
    commands = re.findall(r"stratus ([a-z][a-z -]*[a-z])", body)
    assert len(commands) >= 2
    runner = CliRunner()
    for command in commands:
        words = command.split()
        words = words[:words.index("walt")] if "walt" in words else words
        result = runner.invoke(cli, [*words, "--help"])
        assert result.exit_code == 0, f"the mail names `stratus {command}`: {result.output}"
    assert "https://cloud.example.org/register/admin" in body
