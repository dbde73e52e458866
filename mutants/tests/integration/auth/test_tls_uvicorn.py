"""A real uvicorn on 127.0.0.1 with TLS: client certificates and whole proxy chains reach the
app through api/tls, and the authenticator chain decides (401 with an audit line, not a TLS
alert, for bad certificates)."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request

from stratuslab.api.rest import errors
from stratuslab.api.tls import client_cert_chain, uvicorn_tls_options
from stratuslab.core.auth import Credentials
from stratuslab.core.entities import Principal
from stratuslab.services.auth.certificates import GridmapFile, VomsAuthenticator, X509Authenticator
from stratuslab.services.auth.chain import AuthenticatorChain, AuthEvent
from stratuslab.services.auth.x509 import CaDirectory, FqanMap, VomsVerifier, issue

pytestmark = pytest.mark.integration


def resolve(name: str) -> Principal | None:
    return Principal(name, 11, (), frozenset({"user"})) if name == "alice" else None


@pytest.fixture(scope="module")
def server(disk_pki, tmp_path_factory) -> Iterator[tuple[str, list[AuthEvent]]]:
    gridmap = tmp_path_factory.mktemp("tls") / "grid-mapfile"
    gridmap.write_text('"/DC=eu/DC=stratuslab/O=Test/CN=Alice Example" alice\n')
    ca_dir, mapper = CaDirectory(disk_pki.ca_dir), GridmapFile(gridmap)
    audit: list[AuthEvent] = []
    chain = AuthenticatorChain([
        X509Authenticator(ca_dir, mapper, resolve, defer_voms=True),
        VomsAuthenticator(ca_dir, VomsVerifier(disk_pki.vomsdir),
                          FqanMap({"/vo.stratuslab.eu": ["group:vo"]}), resolve,
                          dn_mapper=mapper),
    ], audit.append)
    app = FastAPI()
    errors.install(app)

    @app.get("/whoami")
    def whoami(request: Request) -> dict[str, object]:
        chain_der = client_cert_chain(request.scope)
        principal = chain.authenticate(Credentials(request.client.host, cert_chain=chain_der))
        return {"user": principal.user, "method": principal.method, "chain": len(chain_der),
                "groups": list(principal.groups)}

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off", **uvicorn_tls_options(
                                str(disk_pki.files["server_cert"]),
                                str(disk_pki.files["server_key"])))
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    try:
        yield f"https://127.0.0.1:{port}", audit
    finally:
        srv.should_exit = True
        thread.join(timeout=20)


def get(disk_pki, url: str, certfile: Path | None = None,
        keyfile: Path | None = None) -> httpx.Response:
    context = ssl.create_default_context(cafile=str(disk_pki.files["ca"]))
    if certfile:
        context.load_cert_chain(str(certfile), str(keyfile) if keyfile else None)
    with httpx.Client(verify=context, timeout=10) as client:
        return client.get(f"{url}/whoami")


def test_user_certificate_over_tls_authenticates(disk_pki, server) -> None:
    url, audit = server
    answer = get(disk_pki, url, disk_pki.files["alice_cert"], disk_pki.files["alice_key"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # OpenSSL clients append the CA from their trust store when no chain file is given
    assert (body["user"], body["method"]) == ("alice", "x509") and body["chain"] in (1, 2)
    assert audit[-1].success and audit[-1].source == "127.0.0.1"


@pytest.mark.parametrize("kind,method", [("rfc", "proxy"), ("legacy", "proxy"),
                                         ("voms", "voms")])
def test_whole_proxy_chain_reaches_the_app(disk_pki, server, proxy_files, kind,
                                           method) -> None:
    url, _ = server
    answer = get(disk_pki, url, getattr(proxy_files, kind))  # proxy, key, EEC in one file
    assert answer.status_code == 200, answer.text
    assert answer.json()["method"] == method and answer.json()["chain"] == 2


def test_self_signed_client_certificate_gets_401_not_a_tls_alert(disk_pki, server,
                                                                  tmp_path) -> None:
    url, audit = server
    rogue = issue.make_ca("/DC=eu/DC=stratuslab/O=Test/CN=Alice Example", disk_pki.now)
    (tmp_path / "c.pem").write_bytes(rogue.cert_pem())
    (tmp_path / "k.pem").write_bytes(rogue.key_pem())
    answer = get(disk_pki, url, tmp_path / "c.pem", tmp_path / "k.pem")
    assert answer.status_code == 401 and "self-signed" in answer.text
    assert not audit[-1].success and "self-signed" in audit[-1].reason


def test_revoked_certificate_gets_401_from_the_ca_dir_crl(disk_pki, server) -> None:
    url, audit = server
    answer = get(disk_pki, url, disk_pki.files["carol_cert"], disk_pki.files["carol_key"])
    assert answer.status_code == 401 and "has been revoked" in answer.text
    assert not audit[-1].success and audit[-1].identity.endswith("CN=Carol Revoked")


def test_expired_voms_ac_over_tls_gets_401(disk_pki, server, proxy_files) -> None:
    url, audit = server
    answer = get(disk_pki, url, proxy_files.voms_expired)
    assert answer.status_code == 401 and audit[-1].method == "voms"


def test_no_client_certificate_gets_401(disk_pki, server) -> None:
    url, audit = server
    answer = get(disk_pki, url)
    assert answer.status_code == 401 and audit[-1].reason == "no credentials"
