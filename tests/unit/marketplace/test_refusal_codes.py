"""Issue 27: one error code per kind across the APIs, for the marketplace launch check.

The site refusing to boot a marketplace image is one kind, whatever the reason — its policy
(blacklists, deprecation, expiry) or its trust (no entry verifies: unknown CA, revoked signer,
bad signature): `forbidden`, like OpenNebula's own refusals of what a caller may use (ACLs,
restricted template attributes, quotas all answer AUTHORIZATION, 0x0200).  So REST and OCCI answer
403 and XML-RPC 0x0200 for both, each from its one table (api/http_status.py,
api/xmlrpc/codes.py); a malformed document uploaded to the marketplace stays `invalid` (400).
Through the real apps of one in-process cloud (simulated node)."""

from __future__ import annotations

import os
import xmlrpc.client
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.helpers.cloud import import_marketplace
from tests.helpers.marketdocs import signed
from tests.helpers.pki import Identity

from stratuslab.api.http_status import STATUS
from stratuslab.api.xmlrpc.codes import ERROR_CODES
from stratuslab.bootstrap import Cloud
from stratuslab.core.errors import ErrorKind
from stratuslab.services.marketplace import PolicyLists, TrustPolicy
from stratuslab.services.marketplace.trust import TrustStore

AUTH = ("admin", "adminpw")
INFRA = "http://schemas.ogf.org/occi/infrastructure#"
OS_TPL = "http://stratuslab.eu/occi/os_tpl#"


@pytest.fixture
def image(mcloud: Cloud, alice: Identity, tmp_path: Path) -> tuple[int, str]:
    """A marketplace image imported while the site still accepted it: (cloud id, identifier)."""
    path = tmp_path / "img.raw"
    path.write_bytes(os.urandom(100_000))
    raw = signed(alice, path.read_bytes(), email="alice@example.org", format="raw",
                 locations=(path.as_uri(),))
    registry = mcloud.features.marketplace.registry
    assert registry is not None
    ident = registry.upload(raw).entry.identifier
    admin = mcloud.identity.check_password(*AUTH)
    return import_marketplace(mcloud, admin, ident), ident


def by_policy(cloud: Cloud, ident: str, _other_ca: Identity) -> str:
    cloud.services.marketplace_images.gate.policy = TrustPolicy(
        PolicyLists.of(images_blacklist=[ident]))
    return f"image {ident} is blacklisted"


def by_trust(cloud: Cloud, _ident: str, other_ca: Identity) -> str:
    cloud.services.marketplace_images.gate.trust = TrustStore((other_ca.cert,))
    return "which is not a trusted CA"


def rest(http: TestClient, image_id: int) -> tuple[int, str]:
    resp = http.post("/api/v1/vms", json={"image": image_id}, auth=AUTH)
    return resp.status_code, resp.text


def xmlrpc_call(http: TestClient, image_id: int) -> tuple[int, str]:
    body = xmlrpc.client.dumps(("admin:adminpw", f'NAME="x"\nDISK=[IMAGE_ID="{image_id}"]\n'),
                               "one.vm.allocate")
    resp = http.post("/RPC2", content=body, headers={"Content-Type": "text/xml"})
    [(ok, message, code)] = xmlrpc.client.loads(resp.content)[0]
    assert ok is False
    return code, message


def occi(http: TestClient, image_id: int) -> tuple[int, str]:
    body = (f'Category: compute; scheme="{INFRA}"; class="kind"\n'
            f'Category: img-{image_id}; scheme="{OS_TPL}"; class="mixin"\n')
    resp = http.post("/occi/compute/", content=body, auth=AUTH,
                     headers={"Content-Type": "text/plain", "Accept": "text/plain"})
    return resp.status_code, resp.text


WIRE: dict[str, tuple[Callable[[TestClient, int], tuple[int, str]], int]] = {
    "rest": (rest, STATUS[ErrorKind.FORBIDDEN]),
    "xmlrpc": (xmlrpc_call, ERROR_CODES[ErrorKind.FORBIDDEN]),
    "occi": (occi, STATUS[ErrorKind.FORBIDDEN]),
}


@pytest.mark.parametrize("refuse", [by_policy, by_trust], ids=["policy", "trust"])
@pytest.mark.parametrize("api", sorted(WIRE))
def test_a_refused_marketplace_image_is_forbidden_in_every_api(
    mcloud: Cloud, image: tuple[int, str], other_ca: Identity, api: str,
    refuse: Callable[[Cloud, str, Identity], str],
) -> None:
    image_id, ident = image
    reason = refuse(mcloud, ident, other_ca)
    call, expected = WIRE[api]
    with TestClient(mcloud.app) as http:
        code, message = call(http, image_id)
    assert code == expected, message
    assert reason in message
    assert mcloud.compute.list(mcloud.identity.check_password(*AUTH), include_done=True)[1] == 0


def test_the_two_refusals_share_one_code_per_api() -> None:
    assert STATUS[ErrorKind.FORBIDDEN] == 403
    assert ERROR_CODES[ErrorKind.FORBIDDEN] == 0x0200  # OpenNebula AUTHORIZATION
