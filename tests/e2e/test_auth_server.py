"""Issue 6 end to end: one real stratus-server configured by `--config` with a real slapd, a
test PKI (CA directory, CRL, vomsdir), a password file and a TLS listener.  LDAP password login
through the CLI, /pswd and /cert, client certificates, RFC 3820 and VOMS proxies over HTTPS
with httpx, registration through the CLI, and an audit line in the server log for every
failure."""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from ldap3 import HASHED_SALTED_SHA
from ldap3.utils.hashed import hashed
from tests.helpers.authlab import ROOT_DN, ROOT_PW, VO
from tests.helpers.servers import BIN, Server, free_port

from stratuslab.services.auth.x509 import issue

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CONFIG = """
[auth]
chain = ["password", "ldap", "x509", "voms"]
password_file = "{pwfile}"

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

[auth.voms]
vomsdir = "{vomsdir}"
fqan_map = {{ "/{vo}" = ["group:vo-members", "role:cloud-access"] }}

[tls]
listen = "127.0.0.1:{tls_port}"
cert = "{cert}"
key = "{key}"

[registration]
admin_email = "admin@example.org"

[mail]
host = "127.0.0.1"
port = {smtp_port}
timeout = 2
"""


class AuthServer(Server):
    tls_port: int = 0
    ca_file: str = ""

    def https(self, path: str, certfile: Path | None = None,
              keyfile: Path | None = None, **kw: object) -> httpx.Response:
        context = ssl.create_default_context(cafile=self.ca_file)
        if certfile:
            context.load_cert_chain(str(certfile), str(keyfile) if keyfile else None)
        with httpx.Client(verify=context, timeout=20) as client:
            return client.request(str(kw.pop("method", "GET")),
                                  f"https://127.0.0.1:{self.tls_port}{path}", **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def srv(slapd, disk_pki, tmp_path_factory) -> Iterator[AuthServer]:
    base = tmp_path_factory.mktemp("auth-e2e")
    (base / "login-pswd.properties").write_text(
        "# the original proxy's file\nfiler = MD5:" + _md5("Filer-pw1") + ",cloud-access\n")
    tls_port = free_port()
    (base / "server.toml").write_text(CONFIG.format(
        pwfile=base / "login-pswd.properties", ldap=slapd.url, root_dn=ROOT_DN,
        root_pw=ROOT_PW, ca_dir=disk_pki.ca_dir, vomsdir=disk_pki.vomsdir, vo=VO,
        tls_port=tls_port, cert=disk_pki.files["server_cert"],
        key=disk_pki.files["server_key"], smtp_port=free_port()))
    server = AuthServer(base / "data", free_port(),
                        args=["--hypervisor", "simulated", "--config", str(base / "server.toml")])
    server.tls_port, server.ca_file = tls_port, str(disk_pki.files["ca"])
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _md5(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def audit_lines(server: Server) -> list[str]:
    return [line for line in server.log().splitlines() if "stratuslab.audit" in line]


@pytest.fixture(scope="module")
def image(srv: AuthServer, tmp_path_factory) -> str:
    f = tmp_path_factory.mktemp("img") / "disk.raw"
    f.write_bytes(os.urandom(65536))
    return srv.cli("image", "register", "base", str(f), "--public").stdout.strip()


def test_ldap_password_login_through_the_cli_owns_a_vm(srv: AuthServer, image: str) -> None:
    before = len(audit_lines(srv))
    [vm] = srv.cli_json("run-instance", image, user="alice", password="Alice-pw1")
    assert vm["owner"] == "alice"
    listed = srv.cli_json("describe-instance", user="alice", password="Alice-pw1")
    assert [v["id"] for v in listed] == [vm["id"]]
    who = httpx.get(srv.endpoint + "/api/v1/whoami", auth=("alice", "Alice-pw1")).json()
    assert who["method"] == "ldap" and "cloud-access" in who["roles"]
    assert "physics" in who["groups"]
    assert "account alice created on first login (origin=ldap" in srv.log()
    assert any("auth success method=ldap identity='alice' source=127.0.0.1 user=alice" in line
               for line in audit_lines(srv)[before:])  # written for these requests


def test_wrong_ldap_password_at_pswd_is_401_with_an_audit_line(srv: AuthServer) -> None:
    before = len(audit_lines(srv))
    answer = httpx.get(srv.endpoint + "/pswd/api/v1/vms", auth=("alice", "wrong-pw"))
    assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Basic")
    assert "unknown user name or wrong password" in answer.json()["error"]["message"]
    new = audit_lines(srv)[before:]  # the line this request wrote, not an earlier one
    assert any("auth failure method=ldap identity='alice' source=127.0.0.1" in line
               for line in new), new
    res = srv.cli("describe-instance", user="alice", password="wrong-pw", check=False)
    assert res.returncode != 0 and "unknown user name or wrong password" in res.stderr


def test_pswd_serves_the_rest_api_to_a_password_and_cert_refuses_it(srv: AuthServer) -> None:
    ok = httpx.get(srv.endpoint + "/pswd/api/v1/whoami", auth=("alice", "Alice-pw1"))
    assert ok.status_code == 200 and ok.json()["user"] == "alice"
    refused = httpx.get(srv.endpoint + "/cert/api/v1/whoami", auth=("alice", "Alice-pw1"))
    assert refused.status_code == 401
    assert "needs a client certificate" in refused.json()["error"]["message"]
    # the CLI takes the classic endpoint as its base URL
    res = subprocess.run([str(BIN / "stratus"), "--endpoint", srv.endpoint + "/pswd", "-u",
                          "alice", "-p", "Alice-pw1", "describe-instance", "--json"],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "STRATUSLAB_CONFIG": "/nonexistent"})
    assert res.returncode == 0 and json.loads(res.stdout)[0]["owner"] == "alice", res.stderr


def test_password_file_user_with_the_original_md5_hash(srv: AuthServer) -> None:
    who = httpx.get(srv.endpoint + "/pswd/api/v1/whoami", auth=("filer", "Filer-pw1"))
    assert who.status_code == 200 and who.json()["method"] == "password"
    assert "cloud-access" in who.json()["roles"]
    bad = httpx.get(srv.endpoint + "/pswd/api/v1/whoami", auth=("filer", "nope"))
    assert bad.status_code == 401


def test_ldap_person_without_cloud_access_is_refused_vms(srv: AuthServer, slapd,
                                                         image: str) -> None:
    conn = slapd.admin()
    conn.add("uid=dave,ou=users,o=cloud", ["inetOrgPerson"],
             {"uid": "dave", "cn": "Dave", "sn": "D", "userPassword":
              hashed(HASHED_SALTED_SHA, "Dave-pw-1")})
    conn.unbind()
    answer = httpx.post(srv.endpoint + "/api/v1/vms", json={"image": int(image)},
                        auth=("dave", "Dave-pw-1"))
    assert answer.status_code == 403 and "has no cloud access" in answer.text
    token = httpx.post(srv.endpoint + "/api/v1/tokens", json={}, auth=("dave", "Dave-pw-1"))
    assert token.status_code == 403


def test_client_certificate_over_tls_maps_to_the_ldap_user(srv: AuthServer,
                                                           disk_pki) -> None:
    answer = srv.https("/cert/api/v1/whoami", disk_pki.files["alice_cert"],
                       disk_pki.files["alice_key"])
    assert answer.status_code == 200, answer.text
    assert (answer.json()["user"], answer.json()["method"]) == ("alice", "x509")
    assert "cloud-access" in answer.json()["roles"]  # from LDAP, through seeAlso
    vms = srv.https("/api/v1/vms", disk_pki.files["alice_cert"], disk_pki.files["alice_key"])
    assert vms.status_code == 200 and vms.json()["total"] >= 1


@pytest.mark.parametrize("kind,method", [("rfc", "proxy"), ("voms", "voms")])
def test_proxies_over_tls(srv: AuthServer, proxy_files, kind: str,
                          method: str) -> None:
    answer = srv.https("/cert/api/v1/whoami", getattr(proxy_files, kind))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["method"] == method and body["user"] == "alice"
    if kind == "voms":
        assert "vo-members" in body["groups"] and "cloud-access" in body["roles"]


def _self_signed(disk_pki, tmp_path: Path) -> tuple[Path, Path]:
    rogue = issue.make_ca("/DC=eu/DC=stratuslab/O=Test/CN=Alice Example", disk_pki.now)
    (tmp_path / "c.pem").write_bytes(rogue.cert_pem())
    (tmp_path / "k.pem").write_bytes(rogue.key_pem())
    return tmp_path / "c.pem", tmp_path / "k.pem"


@pytest.mark.parametrize("case,reason", [
    ("self-signed", "self-signed"),
    ("revoked", "revoked"),
    ("voms_expired", "voms"),
    ("voms_untrusted", "voms"),
    ("none", "no credentials"),
])
def test_bad_certificates_get_401_and_an_audit_line(srv: AuthServer, disk_pki,
                                                    proxy_files, tmp_path: Path,
                                                    case: str, reason: str) -> None:
    files: tuple[Path | None, Path | None] = {
        "self-signed": _self_signed(disk_pki, tmp_path),
        "revoked": (disk_pki.files["carol_cert"], disk_pki.files["carol_key"]),
        "voms_expired": (proxy_files.voms_expired, None),
        "voms_untrusted": (proxy_files.voms_untrusted, None),
        "none": (None, None),
    }[case]
    before = len(audit_lines(srv))
    answer = srv.https("/cert/api/v1/whoami", *files)
    assert answer.status_code == 401, answer.text
    new = audit_lines(srv)[before:]
    assert new and all("auth failure" in line for line in new), new
    assert reason in new[-1], new[-1]  # the audit line says why


def test_registration_applies_through_rest_and_admin_approves_with_the_cli(
        srv: AuthServer) -> None:
    application = {"uid": "erin", "email": "erin@example.org", "given_name": "Erin",
                   "surname": "Example", "password": "Zq7-secret!9"}
    answer = httpx.post(srv.endpoint + "/api/v1/registrations", json=application)
    assert answer.status_code == 202
    pending = srv.cli_json("registration", "list")
    assert [p["uid"] for p in pending] == ["erin"]
    refused = httpx.get(srv.endpoint + "/api/v1/whoami", auth=("erin", "Zq7-secret!9"))
    assert refused.status_code == 401 and "pending" in refused.text
    res = srv.cli("registration", "approve", "erin")
    assert "erin approved" in res.stdout  # the mail fails (no SMTP here): said, not fatal
    who = httpx.get(srv.endpoint + "/api/v1/whoami", auth=("erin", "Zq7-secret!9")).json()
    assert who["user"] == "erin" and "cloud-access" in who["roles"]
    assert json.loads(srv.cli("registration", "list", "--json").stdout) == []
    form = httpx.get(srv.endpoint + "/register")
    assert form.status_code == 200 and "Apply for an account" in form.text
    assert re.search(r"registration approved uid=erin by=admin", srv.log())


def test_xmlrpc_at_pswd_takes_ldap_passwords_and_answers_401_to_wrong_ones(
        srv: AuthServer) -> None:
    url = srv.endpoint.replace("http://", "http://alice:Alice-pw1@") + "/pswd/xmlrpc"
    pool = xmlrpc.client.ServerProxy(url).one.vmpool.info("alice:Alice-pw1", -3, -1, -1, -1)
    assert pool[0] is True
    call = xmlrpc.client.dumps(("alice:wrong-pw", -3, -1, -1, -1), "one.vmpool.info")
    wrong = httpx.post(srv.endpoint + "/pswd/xmlrpc", content=call, auth=("alice", "wrong-pw"))
    assert wrong.status_code == 401
    fault = xmlrpc.client.ServerProxy(srv.endpoint + "/RPC2").one.vmpool.info(
        "alice:wrong-pw", -3, -1, -1, -1)
    assert fault[0] is False and fault[2] == 0x100


@pytest.fixture(scope="module")
def minimal(slapd, tmp_path_factory) -> Iterator[Server]:
    """The outside contract: [auth.ldap] url and user_dn_template alone enable LDAP login."""
    base = tmp_path_factory.mktemp("auth-min")
    (base / "server.toml").write_text(
        f'[auth.ldap]\nurl = "{slapd.url}"\nuser_dn_template = "uid={{user}},ou=users,o=cloud"\n')
    server = Server(base / "data", free_port(),
                    args=["--hypervisor", "simulated", "--config", str(base / "server.toml")])
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_url_and_dn_template_alone_enable_ldap_login(minimal: Server, tmp_path: Path) -> None:
    disk = tmp_path / "disk.raw"
    disk.write_bytes(os.urandom(65536))
    image = minimal.cli("image", "register", "base", str(disk), "--public").stdout.strip()
    [vm] = minimal.cli_json("run-instance", image, user="alice", password="Alice-pw1")
    assert vm["owner"] == "alice"
    wrong = minimal.cli("describe-instance", user="alice", password="nope", check=False)
    assert wrong.returncode != 0 and "unknown user name or wrong password" in wrong.stderr
    assert "auth failure method=ldap identity='alice' source=127.0.0.1" in minimal.log()


def test_xmlrpc_at_cert_takes_a_proxy(srv: AuthServer, proxy_files) -> None:
    call = xmlrpc.client.dumps(("", -3, -1, -1, -1), "one.vmpool.info")
    answer = srv.https("/cert/xmlrpc", proxy_files.rfc, method="POST", content=call,
                       headers={"content-type": "text/xml"})
    assert answer.status_code == 200, answer.text
    (result,), _ = xmlrpc.client.loads(answer.content)
    assert result[0] is True and result[1].startswith("<VM_POOL")
    refused = srv.https("/cert/xmlrpc", method="POST", content=call)
    assert refused.status_code == 401
