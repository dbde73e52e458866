"""In-memory fakes of the XML-RPC backend's ports, one small module per resource.

`FakeBackend` composes them; each part appends what it receives to the shared `calls` list as
(method, args...), so a test can check exactly what the adapter asked for.  A method group can
also be tested alone with its own fake (e.g. `FakeImages(calls)`).
"""

from __future__ import annotations

from typing import Any

from tests.unit.api.xmlrpc.fakes.identity import NOW, FakeIdentity
from tests.unit.api.xmlrpc.fakes.images import FakeImages
from tests.unit.api.xmlrpc.fakes.networks import FakeNetworks
from tests.unit.api.xmlrpc.fakes.system import FakeSystem
from tests.unit.api.xmlrpc.fakes.transport import ClientTransport
from tests.unit.api.xmlrpc.fakes.vms import FakeVms, FakeVolumes

__all__ = [
    "NOW",
    "ClientTransport",
    "FakeBackend",
    "FakeIdentity",
    "FakeImages",
    "FakeNetworks",
    "FakeSystem",
    "FakeVms",
    "FakeVolumes",
]


class FakeBackend:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.identity = FakeIdentity(self.calls)
        self.images = FakeImages(self.calls)
        self.networks = FakeNetworks(self.calls)
        self.vms = FakeVms(self.calls, self.images, self.networks)
        self.volumes = FakeVolumes(self.calls)
        self.system = FakeSystem(self.calls)

    def boot(self, vm_id: int) -> None:
        """What the job runner would do to a pending VM."""
        self.vms.boot(vm_id)
