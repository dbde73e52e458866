from __future__ import annotations

from pathlib import Path

import pytest

from stratuslab.settings import SettingsError, load_settings, parse_duration


def test_toml_then_environment_then_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text('[server]\nlisten = "127.0.0.1:9000"\njob_workers = 2\n[hypervisor]\ndriver = "simulated"\n')
    s = load_settings(cfg, env={"STRATUSLAB_SERVER_JOB_WORKERS": "3"},
                      overrides={"server": {"data_dir": str(tmp_path)}})
    assert s.server.listen == "127.0.0.1:9000"
    assert s.server.job_workers == 3
    assert s.hypervisor.driver == "simulated"
    assert s.database_url == f"sqlite:///{tmp_path}/stratuslab.db"


def test_unknown_key_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text("[server]\nlistn = 1\n")
    with pytest.raises(SettingsError, match=r"server\.listn is unknown"):
        load_settings(cfg, env={})


def test_bad_value_is_named() -> None:
    with pytest.raises(SettingsError, match="server.job_workers"):
        load_settings(None, env={"STRATUSLAB_SERVER_JOB_WORKERS": "many"})


def test_instance_types_are_overridable(tmp_path: Path) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text('[instance_types]\ndefault = "tiny"\ntypes = { tiny = [1, 128, 0] }\n')
    s = load_settings(cfg, env={})
    assert s.instance_types.types == {"tiny": [1, 128, 0]}
    cfg.write_text('[instance_types]\ndefault = "huge"\n')
    with pytest.raises(SettingsError, match="instance_types.default"):
        load_settings(cfg, env={})


def test_stratuslab_defaults_include_the_classic_types() -> None:
    types = load_settings(None, env={}).instance_types.types
    assert types["m1.small"] == [1, 1536, 1536]
    assert types["t1.micro"] == [1, 512, 512]
    assert types["c1.xlarge"] == [4, 6144, 6144]


def test_durations() -> None:
    assert parse_duration("15m") == 900
    assert parse_duration("48h") == 48 * 3600
    assert parse_duration("2d") == 2 * 86400
    with pytest.raises(SettingsError):
        parse_duration("soon")


def test_list_settings_from_the_environment_are_comma_separated() -> None:
    """docs/using.md: a list-valued setting in the environment is written comma-separated."""
    s = load_settings(None, env={"STRATUSLAB_IMAGES_URL_ALLOW_HOSTS": "mirror.example.org, 10.0.0.5,",
                                 "STRATUSLAB_AUTH_CHAIN": "password,ldap"})
    assert list(s.images.url_allow_hosts) == ["mirror.example.org", "10.0.0.5"]
    assert list(s.auth.chain) == ["password", "ldap"]
