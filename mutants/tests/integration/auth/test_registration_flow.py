"""Registration end to end: form/REST -> pending LDAP entry -> admin mail -> approval ->
cloud-access membership -> approval mail -> LDAP login.  Real slapd, real SMTP (aiosmtpd)."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from tests.helpers.authlab import Sink

from stratuslab.api.registration import make_router
from stratuslab.api.rest import errors
from stratuslab.core.auth import Credentials
from stratuslab.core.entities import Principal
from stratuslab.drivers.identity.ldap import LdapDirectory
from stratuslab.drivers.identity.mail import SmtpConfig, SmtpMailer
from stratuslab.services.auth.chain import AuthenticatorChain
from stratuslab.services.auth.ldap import LdapAuthenticator
from stratuslab.services.auth.passwordfile import PasswordFileAuthenticator
from stratuslab.services.auth.registration import (
    RateLimiter,
    RegistrationConfig,
    RegistrationService,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def resolve(name: str) -> Principal | None:
    return Principal(name, 100, (), frozenset({"admin"} if name == "root" else set()))


@pytest.fixture
def client(slapd, smtp, tmp_path: Path) -> Iterator[tuple[TestClient, LdapDirectory]]:
    sink, port = smtp
    directory = LdapDirectory(slapd.config())
    mailer = SmtpMailer(SmtpConfig("127.0.0.1", port, sender="cloud@example.org"))
    service = RegistrationService(directory, mailer, RegistrationConfig("admin@example.org"),
                                  limiter=RateLimiter(20, 600, lambda: 0.0),
                                  account_exists=lambda name: False)
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    (tmp_path / "pw").write_text(f"root = {hasher.hash('Root-pw-1')},admin\n")
    chain = AuthenticatorChain([PasswordFileAuthenticator(tmp_path / "pw", resolve,
                                                          hasher=hasher)])

    def admin(request: Request) -> Principal:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        user, _, password = base64.b64decode(value).decode().partition(":")
        return chain.authenticate(Credentials(request.client.host, user, password))

    app = FastAPI()
    errors.install(app)
    app.include_router(make_router(service, admin=admin))
    with TestClient(app) as test_client:
        yield test_client, directory


ROOT = ("root", "Root-pw-1")
FORM = {"uid": "newton", "email": "newton@example.org", "given_name": "Isaac",
        "surname": "Newton", "password": "Gr4vity!x", "password_check": "Gr4vity!x",
        "agreement": "yes"}  # a certificate DN needs the certificate on the request (TLS):
#                              tests/security/test_registration_dn_claim_without_certificate.py


def test_form_application_is_approved_and_can_then_log_in(client, smtp) -> None:
    http, directory = client
    sink, _ = smtp
    assert "Apply for an account" in http.get("/register").text
    answer = http.post("/register", data=FORM)
    assert answer.status_code == 200 and "application received" in answer.text
    assert directory.find_user("newton").status.value == "pending"
    assert sink.messages[-1]["To"] == "admin@example.org"
    assert "newton" in sink.messages[-1]["Subject"]

    ldap_login = LdapAuthenticator(directory, resolve)
    creds = Credentials(username="newton", password="Gr4vity!x")
    with pytest.raises(Exception, match="still pending"):
        ldap_login.authenticate(creds)

    assert http.get("/api/v1/registrations", auth=("root", "bad")).status_code == 401
    listed = http.get("/api/v1/registrations", auth=ROOT).json()
    assert [p["uid"] for p in listed] == ["newton"]
    assert listed[0]["cert_dns"] == []
    decided = http.post("/api/v1/registrations/newton/approve", auth=ROOT).json()
    assert decided == {"uid": "newton", "status": "approved", "mailed": True}
    assert sink.messages[-1]["To"] == "newton@example.org"
    assert "approved" in sink.messages[-1].get_payload()

    principal = ldap_login.authenticate(creds)
    assert principal is not None and "cloud-access" in principal.roles
    directory.delete_user("newton")


def test_rest_application_does_not_reveal_existing_accounts(client, smtp) -> None:
    http, directory = client
    taken = {**{k: FORM[k] for k in ("email", "given_name", "surname", "password")},
             "uid": "alice"}
    fresh = {**taken, "uid": "halley"}
    first = http.post("/api/v1/registrations", json=taken)
    second = http.post("/api/v1/registrations", json=fresh)
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert directory.find_user("alice").status.value == "active"  # untouched
    rejected = http.post("/api/v1/registrations/halley/reject", auth=ROOT,
                         json={"reason": "duplicate"})
    assert rejected.json()["status"] == "rejected" and directory.find_user("halley") is None
    assert "duplicate" in smtp[0].messages[-1].get_payload()


def test_weak_password_is_shown_on_the_form(client) -> None:
    http, _ = client
    page = http.post("/register", data={**FORM, "uid": "weak", "password": "password",
                                        "password_check": "password"})
    assert page.status_code == 400 and "three of" in page.text
    assert 'value="weak"' in page.text
