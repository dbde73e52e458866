"""The instance-storage contract against every built-in driver, each made through the registry
(entry point group stratuslab.instance_storage) exactly as the server makes it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
from tests.contract.instance_storage_contract import InstanceStorageContract

from stratuslab.core.instance import InstanceStoragePort
from stratuslab.drivers.registry import DriverKind, load


@pytest.fixture(params=["file", "simulated"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> InstanceStoragePort:
    factory = cast(Callable[[str, str], InstanceStoragePort],
                   load(DriverKind.INSTANCE_STORAGE, request.param, setting="test"))
    return factory(str(tmp_path / "instances"), str(tmp_path / "quarantine"))


class TestInstanceStorage(InstanceStorageContract):
    pass
