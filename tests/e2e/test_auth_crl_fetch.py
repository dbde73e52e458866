"""Issue 27 (last piece): the login chain's CRLs are fetched and refreshed like the marketplace's.

A real stratus-server with `[auth.x509]` and a TLS listener; its CA directory holds the CA and a
`<hash>.crl_url` file naming a distribution point served by a real HTTP server on loopback
(started by the test).  The server fetches the CRL at start and every `crl_refresh` second into
data_dir/auth-crls and the chain picks it up without a restart: a revoked certificate gets 401
over REST and XML-RPC at /cert, a new revocation takes effect at the next refresh, an expired
CRL fails closed unless `crl_required = false`."""

from __future__ import annotations

import ssl
import xmlrpc.client
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from tests.helpers.net import www_directory
from tests.helpers.servers import Server, free_port
from tests.helpers.waits import wait_until

from stratuslab.services.auth.x509 import issue

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

NOW = datetime.now(UTC)
CA = issue.make_ca("/DC=eu/DC=stratuslab/CN=CRL Login CA", NOW)
PEOPLE = {name: issue.issue_cert(CA, f"/DC=eu/DC=stratuslab/O=Test/CN={name.title()} Example",
                                 NOW) for name in ("alice", "bob", "carol")}
HOST = issue.issue_cert(CA, "/DC=eu/DC=stratuslab/CN=localhost", NOW, server=True,
                        hosts=["127.0.0.1", "localhost"])

CONFIG = """
[auth]
chain = ["x509"]

[auth.x509]
ca_dir = "{ca_dir}"
gridmap_file = "{gridmap}"
crl_required = {strict}
crl_refresh = 1

[tls]
listen = "127.0.0.1:{tls_port}"
cert = "{cert}"
key = "{key}"
"""


def publish(www: Path, *revoked: str, issued: datetime, expires: datetime) -> None:
    builder = (x509.CertificateRevocationListBuilder().issuer_name(CA.cert.subject)
               .last_update(issued).next_update(expires))
    for name in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(PEOPLE[name].cert.serial_number)
            .revocation_date(issued).build())
    (www / "ca.crl").write_bytes(builder.sign(CA.key, hashes.SHA256()).public_bytes(Encoding.DER))


class CrlServer(Server):
    tls_port: int = 0
    files: Path = Path()

    def login(self, name: str, path: str = "/cert/api/v1/whoami",
              **kw: object) -> httpx.Response:
        context = ssl.create_default_context(cafile=str(self.files / "ca.pem"))
        context.load_cert_chain(str(self.files / f"{name}.pem"), str(self.files / f"{name}.key"))
        with httpx.Client(verify=context, timeout=20) as client:
            return client.request(str(kw.pop("method", "GET")),
                                  f"https://127.0.0.1:{self.tls_port}{path}", **kw)  # type: ignore[arg-type]

    def waits_for(self, name: str, status: int) -> httpx.Response:
        """The login answer of `name` once it is `status` (the next refresh round)."""
        seen: list[httpx.Response] = []

        def answered() -> httpx.Response | None:
            seen.append(self.login(name))
            return seen[-1] if seen[-1].status_code == status else None

        return wait_until(answered, timeout=30, message=lambda: f"{name} never got {status}: "
                          f"{seen[-1].status_code} {seen[-1].text}; {self.log()[-2000:]}")


@pytest.fixture
def www(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    with www_directory(tmp_path) as served:
        yield served


def start(tmp_path: Path, url: str, *, strict: bool) -> CrlServer:
    files, ca_dir = tmp_path / "files", tmp_path / "certificates"
    files.mkdir()
    ca_dir.mkdir()
    (files / "ca.pem").write_bytes(CA.cert_pem())
    for name, who in {**PEOPLE, "host": HOST}.items():
        (files / f"{name}.pem").write_bytes(who.cert_pem())
        (files / f"{name}.key").write_bytes(who.key_pem())
    (ca_dir / "5e1f0a2b.0").write_bytes(CA.cert_pem())
    (ca_dir / "5e1f0a2b.crl_url").write_text(f"{url}/ca.crl\n")
    (files / "grid-mapfile").write_text("".join(
        f'"/DC=eu/DC=stratuslab/O=Test/CN={n.title()} Example" {n}\n' for n in PEOPLE))
    tls_port = free_port()
    (tmp_path / "server.toml").write_text(CONFIG.format(
        ca_dir=ca_dir, gridmap=files / "grid-mapfile", strict=str(strict).lower(),
        tls_port=tls_port, cert=files / "host.pem", key=files / "host.key"))
    server = CrlServer(tmp_path / "data", free_port(),
                       args=["--hypervisor", "simulated", "--config", str(tmp_path / "server.toml")])
    server.tls_port, server.files = tls_port, files
    server.start()
    return server


@pytest.fixture
def servers() -> Iterator[list[CrlServer]]:
    started: list[CrlServer] = []
    yield started
    for server in started:
        server.stop()


def test_fetched_crl_refuses_the_revoked_and_a_refresh_takes_a_new_revocation(
        tmp_path: Path, www: tuple[Path, str], servers: list[CrlServer]) -> None:
    root, url = www
    publish(root, "carol", issued=NOW - timedelta(hours=2), expires=NOW + timedelta(days=1))
    servers.append(srv := start(tmp_path, url, strict=True))
    assert srv.waits_for("alice", 200).json()["user"] == "alice"
    assert (srv.data_dir / "auth-crls").is_dir()
    refused = srv.login("carol")
    assert refused.status_code == 401 and "has been revoked" in refused.text, refused.text
    call = xmlrpc.client.dumps(("", -3, -1, -1, -1), "one.vmpool.info")
    by_xmlrpc = srv.login("carol", "/cert/xmlrpc", method="POST", content=call,
                          headers={"content-type": "text/xml"})
    assert by_xmlrpc.status_code == 401, by_xmlrpc.text
    assert srv.login("bob").status_code == 200

    publish(root, "carol", "bob", issued=NOW - timedelta(hours=1), expires=NOW + timedelta(days=1))
    assert "has been revoked" in srv.waits_for("bob", 401).text
    assert srv.login("alice").status_code == 200

    # a newer list that is already past its nextUpdate: strict logins fail closed
    publish(root, "carol", "bob", issued=NOW - timedelta(minutes=30),
            expires=NOW - timedelta(minutes=1))
    stale = srv.waits_for("alice", 503)
    assert "expired at" in stale.text and "crl_required = false" in stale.text, stale.text


def test_relaxed_setting_accepts_an_expired_crl_but_not_a_revoked_certificate(
        tmp_path: Path, www: tuple[Path, str], servers: list[CrlServer]) -> None:
    root, url = www
    publish(root, "carol", issued=NOW - timedelta(hours=2), expires=NOW - timedelta(minutes=1))
    servers.append(srv := start(tmp_path, url, strict=False))
    # the revocation shows once the (expired) list is fetched; the others log in meanwhile
    assert "has been revoked" in srv.waits_for("carol", 401).text
    assert srv.login("alice").status_code == 200
    assert list((srv.data_dir / "auth-crls").glob("*.crl"))


def test_strict_setting_refuses_logins_until_a_published_crl_is_at_hand(
        tmp_path: Path, www: tuple[Path, str], servers: list[CrlServer]) -> None:
    root, url = www  # nothing published yet: the distribution point answers 404
    servers.append(srv := start(tmp_path, url, strict=True))
    missing = srv.login("alice")
    assert missing.status_code == 503 and "no CRL at hand" in missing.text, missing.text
    assert f"{url}/ca.crl" in missing.text
    forged = issue.make_ca("/DC=eu/DC=stratuslab/CN=CRL Login CA", NOW)  # same name, other key
    (root / "ca.crl").write_bytes(issue.make_crl(forged, [], NOW).public_bytes(Encoding.DER))
    wait_until(lambda: "is not issued and signed by this CA" in srv.log(), timeout=30,
               message="the forged CRL was not fetched")
    assert srv.login("alice").status_code == 503  # a list the CA did not sign counts for nothing
    publish(root, issued=NOW - timedelta(hours=1), expires=NOW + timedelta(days=1))
    assert srv.waits_for("alice", 200).json()["user"] == "alice"
