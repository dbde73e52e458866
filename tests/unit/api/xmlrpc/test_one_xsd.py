"""Every object and pool answer validates against OpenNebula's own XML Schema of the line its
endpoint claims: /one/3.2/RPC2 against 3.2's share/doc/xsd, /one/7.4/RPC2 against 7.4's
(tests/data/one-xsd).  OpenNebula answers without a namespace while its schemas declare one, so
the answer's elements are put into the schemas' namespace first (as upstream's README says)."""

from __future__ import annotations

import xmlrpc.client
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.helpers.onexsd import namespaced, schema
from tests.unit.api.xmlrpc.fakes import ClientTransport, FakeBackend

from stratuslab.api.xmlrpc import create_router, endpoint_versions

SESSION = "oneadmin:secret"

#: (method, arguments, schema file) per line; 3.2 had no datastore, ACL, cluster or zone schema
CALLS = {
    "3.2": [
        ("one.vm.info", (0,), "vm"),
        ("one.vmpool.info", (-2, -1, -1, -1), "vm_pool"),
        ("one.user.info", (5,), "user"),
        ("one.userpool.info", (), "user_pool"),
        ("one.group.info", (1,), "group"),
        ("one.grouppool.info", (), "group_pool"),
        ("one.image.info", (3,), "image"),
        ("one.imagepool.info", (-2, -1, -1), "image_pool"),
        ("one.vn.info", (0,), "vnet"),
        ("one.vnpool.info", (-2, -1, -1), "vnet_pool"),
        ("one.host.info", (0,), "host"),
        ("one.hostpool.info", (), "host_pool"),
        ("one.template.info", (0,), "template"),
        ("one.templatepool.info", (-2, -1, -1), "template_pool"),
    ],
    "7.4": [
        ("one.vm.info", (0,), "vm"),
        ("one.vmpool.info", (-2, -1, -1, -1), "vm_pool"),
        ("one.vmpool.infoextended", (-2, -1, -1, -1), "vm_pool_extended"),
        ("one.user.info", (5,), "user"),
        ("one.userpool.info", (), "user_pool"),
        ("one.group.info", (1,), "group"),
        ("one.grouppool.info", (), "group_pool"),
        ("one.image.info", (3,), "image"),
        ("one.imagepool.info", (-2, -1, -1), "image_pool"),
        ("one.vn.info", (0,), "vnet"),
        ("one.vnpool.info", (-2, -1, -1), "vnet_pool"),
        ("one.host.info", (0,), "host"),
        ("one.hostpool.info", (), "host_pool"),
        ("one.template.info", (0,), "vmtemplate"),
        ("one.templatepool.info", (-2, -1, -1), "vmtemplate_pool"),
        ("one.datastore.info", (1,), "datastore"),
        ("one.datastorepool.info", (), "datastore_pool"),
        ("one.acl.info", (), "acl_pool"),
        ("one.vmpool.infoset", ("0,99", False), "vm_pool"),
        ("one.vmpool.infoset", ("0", True), "vm_pool_extended"),
        ("one.cluster.info", (0,), "cluster"),
        ("one.clusterpool.info", (), "cluster_pool"),
        ("one.zonepool.info", (), "zone_pool"),
    ],
}
CASES = [(line, *call) for line, calls in CALLS.items() for call in calls]


@pytest.fixture(scope="module")
def proxies() -> dict[str, Any]:
    backend = FakeBackend()
    app = FastAPI()
    app.include_router(create_router(backend, paths=endpoint_versions("3.2.0")))
    client = TestClient(app)
    proxies = {
        line: xmlrpc.client.ServerProxy(
            f"http://testserver/one/{line}/RPC2", transport=ClientTransport(client)
        )
        for line in CALLS
    }
    one = proxies["7.4"].one
    ok, vm_id, _ = one.vm.allocate(SESSION, 'NAME="web"\nMEMORY="512"\nDISK=[IMAGE_ID="3"]\n'
                                   'NIC=[NETWORK_ID="0"]', False)
    assert ok
    backend.boot(vm_id)
    assert one.template.allocate(SESSION, 'NAME="small"\nCPU="1"\nMEMORY="256"')[0]
    return proxies


@pytest.mark.parametrize(("line", "method", "args", "xsd"), CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])  # fmt: skip
def test_answer_validates_against_the_schema_of_its_line(
    proxies: dict[str, Any], line: str, method: str, args: tuple[Any, ...], xsd: str
) -> None:
    call = getattr(proxies[line], method)
    ok, xml, code = call(SESSION, *args)
    assert ok, xml
    assert xml.startswith("<"), "pyone parses only answers that start with '<'"
    validator = schema(line, xsd)
    if not validator.validate(namespaced(xml)):
        errors = "\n".join(f"{e.line}: {e.message}" for e in validator.error_log)
        pytest.fail(f"{method} at {line} does not validate against {xsd}.xsd:\n{errors}")
