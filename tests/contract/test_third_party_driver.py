"""A driver package installed beside StratusLab is found by its entry point and selected by
name in the settings, with no change to this repository.

The package is tests/example_driver (a hypervisor, a volume backend and an instance-storage
driver); it is installed into a temporary site directory (its
module plus a dist-info holding its entry points, which is what pip writes) put on sys.path.
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.contract.instance_storage_contract import InstanceStorageContract
from tests.helpers.cloud import make_settings

from stratuslab.bootstrap.nodes import instance_storage, make_node
from stratuslab.core.errors import InvalidInput
from stratuslab.core.instance import InstanceStoragePort
from stratuslab.drivers.registry import DriverKind, installed
from stratuslab.drivers.storage.volumes import build_backends

PACKAGE = Path(__file__).resolve().parents[1] / "example_driver"


def install(site: Path) -> None:
    """What `pip install --target SITE tests/example_driver` leaves: module and dist-info."""
    project = tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]
    shutil.copytree(PACKAGE / "stratuslab_example_driver", site / "stratuslab_example_driver")
    info = site / "stratuslab_example_driver-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    lines = []
    for group, entries in project["entry-points"].items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {target}" for name, target in entries.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    site = tmp_path / "site"
    site.mkdir()
    install(site)
    sys.path.insert(0, str(site))
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        for name in [m for m in sys.modules if m.startswith("stratuslab_example_driver")]:
            del sys.modules[name]


@pytest.fixture
def storage(site: Path, tmp_path: Path) -> InstanceStoragePort:
    settings = make_settings(tmp_path / "data", hypervisor={"instance_storage": "example"})
    return instance_storage(settings)


def test_the_installed_package_is_selected_by_name(site: Path, tmp_path: Path) -> None:
    assert "example" in installed(DriverKind.INSTANCE_STORAGE)
    settings = make_settings(tmp_path / "data", hypervisor={"instance_storage": "example"})
    driver = instance_storage(settings)
    assert type(driver).__name__ == "ExampleInstanceStorage"
    assert type(driver).__module__ == "stratuslab_example_driver"


def test_its_hypervisor_is_selected_by_name_with_any_settings_key_left_alone(
        site: Path, tmp_path: Path) -> None:
    assert "example" in installed(DriverKind.HYPERVISOR)
    settings = make_settings(tmp_path / "data", hypervisor={"driver": "example"})
    node = make_node(settings)
    assert type(node.hypervisor).__name__ == "ExampleHypervisor"
    assert (tmp_path / "data" / "example-hypervisor").is_dir()


def test_its_volume_backend_serves_a_pool_named_in_the_settings(site: Path,
                                                                 tmp_path: Path) -> None:
    assert "example" in installed(DriverKind.VOLUME_BACKEND)
    pools = build_backends({"lab": {"backend": "example"}, "plain": {}}, data_dir=str(tmp_path))
    assert {n: b.name for n, b in pools.items()} == {"lab": "example", "plain": "file"}
    with pytest.raises(InvalidInput, match="storage.pools.lab.portal is unknown for backend "
                                           "example"):
        build_backends({"lab": {"backend": "example", "portal": "a:1"}}, data_dir=str(tmp_path))


def test_an_uninstalled_hypervisor_is_refused_listing_the_installed_ones(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", hypervisor={"driver": "xen"})
    with pytest.raises(InvalidInput, match="setting hypervisor.driver: no driver 'xen' is "
                                           "installed") as err:
        make_node(settings)
    assert err.value.hint == "choose one of: libvirt, qemu, simulated"


def test_a_driver_name_nobody_installed_is_refused_naming_the_setting(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", hypervisor={"instance_storage": "example"})
    with pytest.raises(InvalidInput, match="setting hypervisor.instance_storage: no driver "
                                           "'example' is installed") as err:
        instance_storage(settings)
    assert "file" in err.value.hint and "simulated" in err.value.hint


class TestExampleDriverPassesTheContract(InstanceStorageContract):
    def test_it_is_the_example_driver_that_prepared(self, storage: InstanceStoragePort,
                                                    tmp_path: Path) -> None:
        from tests.contract.instance_storage_contract import request

        prepared = storage.prepare(request(tmp_path, 11))
        assert (Path(prepared.instance_dir) / "made-by-example-driver").read_text() == "yes\n"
