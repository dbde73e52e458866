"""A real stratus-server with LDAP (the authlab slapd), certificate login over TLS and
registration, for the security tests of directory-backed authentication; certificate holders
made on the fly by the authlab CA; people put into (and taken out of) the directory as
registration or an administrator would."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from ldap3 import HASHED_SALTED_SHA
from ldap3.utils.hashed import hashed
from tests.helpers.authlab import ROOT_DN, ROOT_PW
from tests.helpers.servers import Server, free_port

from stratuslab.services.auth.x509 import issue
from stratuslab.services.auth.x509.dn import to_rfc4514

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
    pki_root: Path = Path()

    def https(self, path: str, holder: Holder | None = None, **kw: Any) -> httpx.Response:
        context = ssl.create_default_context(cafile=self.ca_file)
        if holder:
            context.load_cert_chain(str(holder.cert), str(holder.key))
        with httpx.Client(verify=context, timeout=20) as client:
            return client.request(str(kw.pop("method", "GET")),
                                  f"https://127.0.0.1:{self.tls_port}{path}", **kw)


@contextlib.contextmanager
def dir_server(slapd: Any, disk_pki: Any, base: Path) -> Iterator[DirServer]:
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


def holder(srv: DirServer, disk_pki: Any, name: str) -> Holder:
    dn = f"/DC=eu/DC=stratuslab/O=Test/CN={name}"
    issued = issue.issue_cert(disk_pki.ca, dn, disk_pki.now)
    cert, key = srv.pki_root / f"{name}-cert.pem", srv.pki_root / f"{name}-key.pem"
    cert.write_bytes(issued.cert_pem())
    key.write_bytes(issued.key_pem())
    return Holder(dn, cert, key)


def ldap_person(slapd: Any, uid: str, *, pending: bool, dn: str | None = None,
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


def ldap_remove(slapd: Any, *entries: str) -> None:
    conn = slapd.admin()
    for entry in entries:
        conn.delete(entry)
    conn.unbind()
