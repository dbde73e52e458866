"""Attacks on the server's own TLS clients: an LDAP server (or a man in the middle) with a
certificate no configured CA signed received users' passwords over `ldaps://`; there was no
StartTLS and `ca_file`/`start_tls` were refused as unknown keys; SMTP STARTTLS verified nothing.

A real slapd with ldaps:// and StartTLS, and a real SMTP server (aiosmtpd) with STARTTLS, whose
certificates come from a CA the test makes.  Certificates are verified by default; without
TLS, a remote server is refused at start-up unless `insecure` is set, which logs an error."""

from __future__ import annotations

import logging
import os
import shutil
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ldap3 import Connection, Server
from tests.helpers.authlab import ROOT_DN, ROOT_PW, SLAPD_CONF, SUFFIX, Sink, wait_port
from tests.helpers.net import free_port
from tests.helpers.waits import wait_until

from stratuslab.core.errors import InvalidInput, Unavailable
from stratuslab.drivers import _process
from stratuslab.drivers.identity.ldap import LdapConfig, LdapDirectory
from stratuslab.drivers.identity.mail import SmtpConfig, SmtpMailer
from stratuslab.services.auth.x509 import issue
from stratuslab.settings import load_settings

pytestmark = [pytest.mark.integration]


@dataclass
class TlsLab:
    ca_file: Path  # the CA that signed the servers' certificates
    other_ca_file: Path  # a CA that did not
    ldaps_url: str
    ldap_url: str  # plain, for StartTLS
    cert: Path
    key: Path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsLab]:
    if not shutil.which("slapd") and not os.path.exists("/usr/sbin/slapd"):
        pytest.skip("slapd is not installed (run scripts/setup.sh)")
    d = tmp_path_factory.mktemp("slapd-tls")
    now = datetime.now(UTC)
    ca = issue.make_ca("/DC=org/DC=test/CN=LDAP Test CA", now)
    other = issue.make_ca("/DC=org/DC=test/CN=Unrelated CA", now)
    server = issue.issue_cert(ca, "/DC=org/DC=test/CN=localhost", now, server=True,
                              hosts=["127.0.0.1", "localhost"])
    files = {"ca.pem": ca.cert_pem(), "other.pem": other.cert_pem(),
             "server.pem": server.cert_pem(), "server.key": server.key_pem()}
    for name, data in files.items():
        (d / name).write_bytes(data)
    (d / "db").mkdir()
    conf = SLAPD_CONF.format(d=d, suffix=SUFFIX, rootdn=ROOT_DN, rootpw=ROOT_PW).replace(
        "modulepath", f"TLSCertificateFile {d / 'server.pem'}\n"
                      f"TLSCertificateKeyFile {d / 'server.key'}\nmodulepath", 1)
    (d / "slapd.conf").write_text(conf)
    _process.run(["/usr/sbin/slaptest", "-f", str(d / "slapd.conf"), "-u"], timeout=30)
    plain, secure = free_port(), free_port()
    proc = _process.spawn(["/usr/sbin/slapd", "-d", "0", "-f", str(d / "slapd.conf"), "-h",
                           f"ldap://127.0.0.1:{plain}/ ldaps://127.0.0.1:{secure}/"],
                          stderr_path=str(d / "slapd.log"))
    try:
        wait_port(plain)
        wait_port(secure)
        _seed(f"ldap://127.0.0.1:{plain}")
        yield TlsLab(d / "ca.pem", d / "other.pem", f"ldaps://localhost:{secure}",
                     f"ldap://localhost:{plain}", d / "server.pem", d / "server.key")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _seed(url: str) -> None:
    from ldap3 import HASHED_SALTED_SHA
    from ldap3.utils.hashed import hashed

    conn = Connection(Server(url), ROOT_DN, ROOT_PW, auto_bind=True)
    conn.add(SUFFIX, ["organization"], {"o": "cloud"})
    conn.add("ou=users,o=cloud", ["organizationalUnit"], {"ou": "users"})
    conn.add("uid=olga,ou=users,o=cloud", ["inetOrgPerson"], {
        "uid": "olga", "cn": "Olga", "sn": "O", "userPassword": hashed(HASHED_SALTED_SHA,
                                                                         "Olga-pw-1")})
    assert conn.result["result"] == 0, conn.result
    conn.unbind()


def _directory(url: str, **tls: object) -> LdapDirectory:
    return LdapDirectory(LdapConfig(url, "uid={user},ou=users,o=cloud", timeout=3,
                                    **tls))  # type: ignore[arg-type]


def test_ldaps_server_certificate_from_an_unconfigured_ca_gets_no_password(
        lab: TlsLab) -> None:
    for directory in (_directory(lab.ldaps_url),  # the system's CAs: ours is not among them
                      _directory(lab.ldaps_url, ca_file=str(lab.other_ca_file))):
        with pytest.raises(Unavailable):
            directory.check_password("olga", "Olga-pw-1")
    assert _directory(lab.ldaps_url, ca_file=str(lab.ca_file)).check_password("olga",
                                                                              "Olga-pw-1")


def test_ldap_starttls_verifies_the_server_before_any_bind(lab: TlsLab) -> None:
    good = _directory(lab.ldap_url, start_tls=True, ca_file=str(lab.ca_file))
    assert good.check_password("olga", "Olga-pw-1")
    assert not good.check_password("olga", "wrong")
    with pytest.raises(Unavailable):
        _directory(lab.ldap_url, start_tls=True,
                   ca_file=str(lab.other_ca_file)).check_password("olga", "Olga-pw-1")


def test_ldap_tls_settings_are_known_keys() -> None:
    settings = load_settings(None, env={}, overrides={"auth": {"ldap": {
        "url": "ldap://ldap.example.org", "user_dn_template": "uid={user},o=x",
        "ca_file": "/etc/ssl/ldap-ca.pem", "start_tls": True}}})
    assert settings.auth.ldap.start_tls and settings.auth.ldap.ca_file == "/etc/ssl/ldap-ca.pem"


def test_clear_text_to_a_remote_ldap_server_is_refused_unless_insecure(caplog) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="clear text") as refused:
        _directory("ldap://ldap.example.org")
    assert "start_tls" in (refused.value.hint or "")
    _directory("ldap://127.0.0.1:1")  # loopback never leaves the machine
    with caplog.at_level(logging.ERROR, logger="stratuslab.auth"):
        _directory("ldap://ldap.example.org", insecure=True)
        _directory("ldaps://ldap.example.org", insecure=True)
    assert len([r for r in caplog.records if "INSECURE" in r.message]) == 2


def test_unverified_ldaps_only_with_insecure(lab: TlsLab) -> None:
    assert _directory(lab.ldaps_url, insecure=True).check_password("olga", "Olga-pw-1")


@pytest.fixture(scope="module")
def smtp_tls(lab: TlsLab) -> Iterator[tuple[Sink, int]]:
    from aiosmtpd.controller import Controller

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(lab.cert), str(lab.key))
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, server_hostname="localhost")
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def test_smtp_starttls_verifies_the_server_certificate(lab: TlsLab,
                                                       smtp_tls: tuple[Sink, int]) -> None:
    sink, port = smtp_tls
    for ca_file in (None, str(lab.other_ca_file)):
        with pytest.raises(Unavailable, match="certificate verify failed"):
            SmtpMailer(SmtpConfig("localhost", port, starttls=True, timeout=5,
                                  ca_file=ca_file)).send("a@example.org", "s", "b")
    assert sink.messages == []
    SmtpMailer(SmtpConfig("localhost", port, starttls=True, timeout=5,
                          ca_file=str(lab.ca_file))).send("a@example.org", "hello", "b")
    wait_until(lambda: len(sink.messages) == 1, timeout=10, message="the mail is delivered")
    assert sink.messages[0]["Subject"] == "hello"


def test_smtp_password_in_clear_text_to_a_remote_server_is_refused() -> None:
    with pytest.raises(InvalidInput, match="clear text"):
        SmtpMailer(SmtpConfig("smtp.example.org", 25, username="cloud", password="pw"))
    SmtpMailer(SmtpConfig("smtp.example.org", 587, username="cloud", password="pw",
                          starttls=True))
    SmtpMailer(SmtpConfig("127.0.0.1", 25, username="cloud", password="pw"))
