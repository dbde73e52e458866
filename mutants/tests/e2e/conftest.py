"""A real stratus-server on loopback, driven by the real CLI (the class is tests.helpers.servers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.helpers.servers import Server, free_port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("e2e")
    srv = Server(base / "data", free_port(), args=["--hypervisor", "simulated"])
    srv.start()
    yield srv
    srv.stop()
    srv.reap()
