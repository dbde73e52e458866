"""Fixtures for auth integration tests: a real slapd on 127.0.0.1, a test PKI on disk
(CA directory in the grid hashed layout, user/host/VOMS certificates, vomsdir), and an SMTP
sink (aiosmtpd).  Everything runs on loopback and is torn down at the end of the session.
A pytest plugin loaded by tests/conftest.py: its fixtures are available to every test."""

from __future__ import annotations

import email
import email.message
import os
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from ldap3 import Connection, Server
from tests.helpers.net import free_port
from tests.helpers.waits import wait_until

from stratuslab.drivers import _process
from stratuslab.drivers.identity.ldap import LdapConfig
from stratuslab.services.auth.x509 import issue

SUFFIX = "o=cloud"
ROOT_DN, ROOT_PW = "cn=admin,o=cloud", "secret"
ALICE_DN = "/DC=eu/DC=stratuslab/O=Test/CN=Alice Example"
VO = "vo.stratuslab.eu"


def wait_port(port: int, timeout: float = 10.0) -> None:
    def listening() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    wait_until(listening, timeout=timeout, interval=0.05,
               message=f"nothing listens on 127.0.0.1:{port}")


SLAPD_CONF = """include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile  {d}/slapd.pid
argsfile {d}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 10485760
suffix "{suffix}"
rootdn "{rootdn}"
rootpw {rootpw}
directory {d}/db
index objectClass eq
index uid eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
"""


@dataclass
class Slapd:
    url: str
    port: int

    def config(self, **overrides: str | None) -> LdapConfig:
        values: dict[str, str | None] = {
            "user_dn_template": "uid={user},ou=users,o=cloud",
            "search_base": "ou=users,o=cloud", "group_base": "ou=groups,o=cloud",
            "bind_dn": ROOT_DN, "bind_password": ROOT_PW,
        }
        values.update(overrides)
        return LdapConfig(self.url, timeout=3.0, **values)  # type: ignore[arg-type]

    def admin(self) -> Connection:
        return Connection(Server(self.url), ROOT_DN, ROOT_PW, auto_bind=True)


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    if not shutil.which("slapd") and not os.path.exists("/usr/sbin/slapd"):
        pytest.skip("slapd is not installed (run scripts/setup.sh)")
    d = tmp_path_factory.mktemp("slapd")
    (d / "db").mkdir()
    (d / "slapd.conf").write_text(SLAPD_CONF.format(d=d, suffix=SUFFIX, rootdn=ROOT_DN,
                                                    rootpw=ROOT_PW))
    _process.run(["/usr/sbin/slaptest", "-f", str(d / "slapd.conf"), "-u"], timeout=30)
    port = free_port()
    proc = _process.spawn(["/usr/sbin/slapd", "-d", "0", "-f", str(d / "slapd.conf"),
                           "-h", f"ldap://127.0.0.1:{port}/"], stderr_path=str(d / "slapd.log"))
    try:
        wait_port(port)
        server = Slapd(f"ldap://127.0.0.1:{port}", port)
        _seed(server)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except Exception:
            proc.kill()
            proc.wait(timeout=10)


def _seed(server: Slapd) -> None:
    from ldap3 import HASHED_SALTED_SHA
    from ldap3.utils.hashed import hashed

    conn = server.admin()
    conn.add(SUFFIX, ["organization"], {"o": "cloud"})
    conn.add("ou=users,o=cloud", ["organizationalUnit"], {"ou": "users"})
    conn.add("ou=groups,o=cloud", ["organizationalUnit"], {"ou": "groups"})
    conn.add("uid=alice,ou=users,o=cloud", ["inetOrgPerson"], {
        "uid": "alice", "cn": "Alice Example", "sn": "Example", "givenName": "Alice",
        "mail": "alice@example.org", "userPassword": hashed(HASHED_SALTED_SHA, "Alice-pw1"),
        "seeAlso": "CN=Alice Example,O=Test,DC=stratuslab,DC=eu"})
    conn.add("cn=cloud-access,ou=groups,o=cloud", ["groupOfUniqueNames"], {
        "cn": "cloud-access", "uniqueMember": "uid=alice,ou=users,o=cloud"})
    conn.add("cn=physics,ou=groups,o=cloud", ["groupOfUniqueNames"], {
        "cn": "physics", "uniqueMember": "uid=alice,ou=users,o=cloud"})
    assert conn.result["result"] == 0, conn.result
    conn.unbind()


@dataclass
class DiskPki:
    root: Path
    now: datetime
    ca: issue.Issued
    alice: issue.Issued
    server: issue.Issued
    voms: issue.Issued
    rogue_voms: issue.Issued
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def ca_dir(self) -> Path:
        return self.root / "certificates"

    @property
    def vomsdir(self) -> Path:
        return self.root / "vomsdir"

    def env(self) -> dict[str, str]:
        return {"X509_CERT_DIR": str(self.ca_dir), "X509_VOMS_DIR": str(self.vomsdir),
                "X509_USER_CERT": str(self.files["alice_cert"]),
                "X509_USER_KEY": str(self.files["alice_key"])}


def _write_pair(root: Path, name: str, issued: issue.Issued, files: dict[str, Path]) -> None:
    cert, key = root / f"{name}cert.pem", root / f"{name}key.pem"
    cert.write_bytes(issued.cert_pem())
    key.write_bytes(issued.key_pem())
    key.chmod(0o400)  # globus refuses looser key modes
    files[f"{name}_cert"], files[f"{name}_key"] = cert, key


@pytest.fixture(scope="session")
def disk_pki(tmp_path_factory: pytest.TempPathFactory) -> DiskPki:
    root = tmp_path_factory.mktemp("pki")
    now = datetime.now(UTC)
    ca = issue.make_ca("/DC=eu/DC=stratuslab/CN=Test CA", now)
    rogue = issue.make_ca("/DC=org/DC=rogue/CN=Rogue CA", now)
    voms_dn = "/DC=eu/DC=stratuslab/CN=voms.example.org"
    pki = DiskPki(root, now, ca, issue.issue_cert(ca, ALICE_DN, now),
                  issue.issue_cert(ca, "/DC=eu/DC=stratuslab/CN=localhost", now, server=True,
                                   hosts=["127.0.0.1", "localhost"]),
                  issue.issue_cert(ca, voms_dn, now, server=True),
                  issue.issue_cert(rogue, voms_dn, now, server=True))
    for name in ("alice", "server", "voms", "rogue_voms"):
        _write_pair(root, name, getattr(pki, name), pki.files)
    pki.ca_dir.mkdir()
    ca_pem = root / "ca.pem"
    ca_pem.write_bytes(ca.cert_pem())
    subject_hash = _process.run(["openssl", "x509", "-in", str(ca_pem), "-noout", "-hash"],
                                timeout=10).stdout.strip()
    (pki.ca_dir / f"{subject_hash}.0").write_bytes(ca.cert_pem())
    (pki.ca_dir / f"{subject_hash}.signing_policy").write_text(
        "access_id_CA X509 '/DC=eu/DC=stratuslab/CN=Test CA'\npos_rights globus CA:sign\n"
        "cond_subjects globus '\"/DC=eu/DC=stratuslab/*\"'\n")
    (pki.vomsdir / VO).mkdir(parents=True)
    (pki.vomsdir / VO / "voms.example.org.lsc").write_text(f"{voms_dn}\n"
                                                           "/DC=eu/DC=stratuslab/CN=Test CA\n")
    pki.files["ca"] = ca_pem
    # Carol's certificate is revoked by a CRL in the hashed layout (<hash>.r0)
    carol = issue.issue_cert(ca, "/DC=eu/DC=stratuslab/O=Test/CN=Carol Revoked", now)
    _write_pair(root, "carol", carol, pki.files)
    crl = issue.make_crl(ca, [carol.cert], now)
    (pki.ca_dir / f"{subject_hash}.r0").write_bytes(crl.public_bytes(Encoding.PEM))
    return pki


def _python_proxy_file(pki: DiskPki, path: Path, *, legacy: bool = False,
                       ac: bytes | None = None) -> Path:
    """What grid-proxy-init / voms-proxy-fake write: proxy cert, proxy key, then the EEC."""
    extensions = [issue.voms_extension(ac)] if ac else []
    proxy = issue.make_proxy(pki.alice, pki.now, legacy=legacy, extensions=extensions)
    path.write_bytes(proxy.cert_pem() + proxy.key_pem() + pki.alice.cert_pem())
    path.chmod(0o600)
    return path


def _fake_voms(pki: DiskPki, out: Path, host: str, *extra: str) -> Path:
    """voms-proxy-fake when installed, else the same AC built in Python."""
    hostcert, hostkey = pki.files[f"{host}_cert"], pki.files[f"{host}_key"]
    if shutil.which("voms-proxy-fake"):
        _process.run(["voms-proxy-fake", "-cert", pki.files["alice_cert"],
                      "-key", pki.files["alice_key"], "-hostcert", hostcert, "-hostkey", hostkey,
                      "-voms", VO, "-uri", "voms.example.org:15000",
                      "-fqan", f"/{VO}/Role=NULL/Capability=NULL",
                      "-fqan", f"/{VO}/cloud/Role=admin/Capability=NULL",
                      "-rfc", "-hours", "12", *extra, "-out", out],
                     env=pki.env(), timeout=60)
        return out
    from datetime import timedelta

    start = pki.now - timedelta(hours=3) if extra else pki.now - timedelta(minutes=5)
    spec = issue.AcSpec(VO, "voms.example.org", [f"/{VO}/Role=NULL/Capability=NULL",
                                                 f"/{VO}/cloud/Role=admin/Capability=NULL"],
                        start, start + timedelta(hours=1 if extra else 12))
    server = pki.voms if host == "voms" else pki.rogue_voms
    return _python_proxy_file(pki, out, ac=issue.make_voms_ac(server, pki.alice.cert, spec))


@dataclass
class ProxyFiles:
    made_by: str  # "grid tools" or "python"
    rfc: Path
    legacy: Path
    voms: Path
    voms_expired: Path
    voms_untrusted: Path


@pytest.fixture(scope="session")
def proxy_files(disk_pki: DiskPki) -> ProxyFiles:
    root = disk_pki.root
    if shutil.which("grid-proxy-init"):
        for flag, name in (("-rfc", "rfc"), ("-old", "legacy")):
            _process.run(["grid-proxy-init", flag, "-q", "-hours", "12",
                          "-out", root / f"proxy_{name}.pem"], env=disk_pki.env(), timeout=60)
    else:
        _python_proxy_file(disk_pki, root / "proxy_rfc.pem")
        _python_proxy_file(disk_pki, root / "proxy_legacy.pem", legacy=True)
    tools = shutil.which("grid-proxy-init") and shutil.which("voms-proxy-fake")
    return ProxyFiles(
        "grid tools" if tools else "python", root / "proxy_rfc.pem", root / "proxy_legacy.pem",
        _fake_voms(disk_pki, root / "proxy_voms.pem", "voms"),
        _fake_voms(disk_pki, root / "proxy_voms_old.pem", "voms", "-vomslife", "1",
                   "-pastac", "3:00"),
        _fake_voms(disk_pki, root / "proxy_voms_rogue.pem", "rogue_voms"),
    )


class Sink:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"
