"""Issue 27: the standalone `stratus-marketplace` process fetches the CRLs its trusted CAs publish
too (at start, then every `[marketplace] crl_refresh` seconds): an endorser the CA revokes at
its distribution point (a real HTTP server on loopback) can no longer upload, without a
restart."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from tests.helpers.marketdocs import signed
from tests.helpers.net import free_port, http_directory
from tests.helpers.pki import make_ca, make_crl, make_endorser
from tests.helpers.servers import BIN
from tests.helpers.waits import wait_until

pytestmark = [pytest.mark.e2e]


def test_standalone_marketplace_refuses_an_endorser_revoked_after_it_started(
    tmp_path: Path,
) -> None:
    root = tmp_path / "www"
    root.mkdir()
    with http_directory(root) as url:
        check_revocation_reaches_the_running_marketplace(tmp_path, root, url)


def check_revocation_reaches_the_running_marketplace(tmp_path: Path, root: Path, url: str) -> None:
    ca = make_ca("Standalone CRL CA", key_index=6, crl_url=f"{url}/ca.crl")
    dave = make_endorser(ca, "Dave Example", "dave@example.org", key_index=7)
    issued = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    (root / "ca.crl").write_bytes(make_crl(ca, issued=issued))
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir()
    (ca_dir / "ca.pem").write_bytes(ca.cert_pem)
    cfg = tmp_path / "mp.toml"
    cfg.write_text(f'[marketplace]\nca_dir = "{ca_dir}"\ncrl_refresh = 1\n')
    port = free_port()
    log = open(tmp_path / "mp.log", "wb")
    proc = subprocess.Popen([str(BIN / "stratus-marketplace"), "--config", str(cfg), "--data-dir",
                             str(tmp_path / "data"), "--listen", f"127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"

    def upload(name: str) -> httpx.Response:
        doc = signed(dave, name.encode(), email="dave@example.org")
        return httpx.post(f"{endpoint}/metadata", content=doc, timeout=30)

    def answers() -> bool:
        assert proc.poll() is None, (tmp_path / "mp.log").read_text()
        try:
            return httpx.get(f"{endpoint}/metadata", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(answers, timeout=60, message="stratus-marketplace did not come up")
        wait_until(lambda: list((tmp_path / "data" / "marketplace-crls").glob("*.crl")),
                   timeout=30, message="the CRL fetched at start")
        first = upload("before")
        assert first.status_code == 201, first.text
        (root / "ca.crl").write_bytes(make_crl(ca, (dave,)))  # the CA revokes dave
        wait_until(lambda: upload("after").status_code == 400, timeout=30,
                   message="dave still accepted after the next scheduled fetch")
        refused = upload("after")
        assert "has been revoked by its CA" in refused.text
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
