"""Each XML-RPC method group works with the fakes of its own ports alone: the image methods
over identity + images, the network methods over identity + networks (no VM, host or template
fake anywhere)."""

from __future__ import annotations

import xmlrpc.client
from types import SimpleNamespace
from typing import Any

from tests.unit.api.xmlrpc.fakes import FakeIdentity, FakeImages, FakeNetworks

from stratuslab.api.xmlrpc.dispatch import Dispatcher
from stratuslab.api.xmlrpc.router import all_methods
from stratuslab.core.auth import Credentials

BASE = Credentials(source="127.0.0.1")


def call(backend: Any, method: str, *params: Any) -> Any:
    dispatcher = Dispatcher(backend, all_methods(), version="7.4.0")
    body = xmlrpc.client.dumps(("oneadmin:secret", *params), method).encode()
    (result,), _ = xmlrpc.client.loads(dispatcher.handle(body, BASE), use_builtin_types=True)
    return result


def test_image_methods_need_only_the_identity_and_image_ports() -> None:
    calls: list[tuple[Any, ...]] = []
    backend = SimpleNamespace(identity=FakeIdentity(calls), images=FakeImages(calls))
    ok, xml, code = call(backend, "one.image.info", 3)
    assert ok and code == 0 and "<NAME>ttylinux</NAME>" in xml
    assert call(backend, "one.image.enable", 3, False) == [True, 3, 0]
    assert ("image_enable", 3, False) in calls


def test_network_methods_need_only_the_identity_and_network_ports() -> None:
    calls: list[tuple[Any, ...]] = []
    backend = SimpleNamespace(identity=FakeIdentity(calls), networks=FakeNetworks(calls))
    ok, xml, _ = call(backend, "one.vnpool.info", -2, -1, -1)
    assert ok and "<NAME>public</NAME>" in xml
    assert call(backend, "one.vn.hold", 0, 'LEASES=[IP="10.1.0.9"]') == [True, 0, 0]
    assert ("network_hold", 0, "10.1.0.9") in calls
