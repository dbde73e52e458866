"""The storage wiring's pool choice: defaults per hypervisor, tgtd inside the data-plane
namespace in all-in-one mode (where QEMU runs) unless the pool names its own."""

from __future__ import annotations

from stratuslab.bootstrap.storage import pool_tables
from stratuslab.settings import load_settings


def settings(**storage: object):  # type: ignore[no-untyped-def]
    return load_settings(None, env={}, overrides={"hypervisor": {"driver": "qemu"},
                                                  "storage": storage})  # fmt: skip


def test_no_pool_configured_gives_a_file_pool_or_a_simulated_one() -> None:
    assert pool_tables(settings(), None) == {"default": {"backend": "file"}}
    sim = load_settings(None, env={}, overrides={"hypervisor": {"driver": "simulated"}})
    assert pool_tables(sim, None) == {"default": {"backend": "simulated"}}


def test_iscsi_pool_runs_tgtd_in_the_data_plane_namespace_unless_told_otherwise() -> None:
    pools = {"default": {"backend": "iscsi"}, "san": {"backend": "iscsi", "netns": "storage"},
             "files": {"backend": "file"}}  # fmt: skip
    got = pool_tables(settings(pools=pools), "sl-1234")
    assert got["default"]["netns"] == "sl-1234" and got["san"]["netns"] == "storage"
    assert "netns" not in got["files"]
    assert "netns" not in pool_tables(settings(pools=pools), None)["default"]


def test_bad_storage_settings_are_refused_naming_the_key() -> None:
    import pytest

    from stratuslab.settings import SettingsError

    with pytest.raises(SettingsError, match="storage.default_pool: 'default' is not a pool"):
        settings(pools={"san": {"backend": "iscsi"}})
    with pytest.raises(SettingsError, match="storage.user_max_gb"):
        settings(user_max_gb=-1)
