"""docs/configuration.md is generated from the settings declarations and must be current; every
key that the loader knows is in it; `stratus-server config check` names the key and its line."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratuslab.__main__ import main
from stratuslab.settings import Settings
from stratuslab.settings.reference import generate, line_of, sections

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_configuration_reference_is_current() -> None:
    assert DOC.read_text() == generate(), (
        "docs/configuration.md is out of date; regenerate it with: "
        ".venv/bin/stratus-server config reference > docs/configuration.md")


def test_every_key_is_documented_with_a_description() -> None:
    text = generate()
    for name, cls, _doc in sections(Settings):
        assert f"## [{name}]" in text
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if dataclasses.is_dataclass(hints[f.name]):
                continue
            assert f.metadata.get("doc"), f"{name}.{f.name} has no description"
            assert f"| `{f.name}` |" in text
    # the keys the README once forgot
    for key in ("log_level", "purge_interval", "accel", "machine", "binary", "build_cache"):
        assert f"| `{key}` |" in text


def test_reference_command_prints_the_document() -> None:
    res = CliRunner().invoke(main, ["config", "reference"])
    assert res.exit_code == 0
    assert res.output == generate()


@pytest.mark.parametrize(("body", "line", "message"), [
    ('[server]\nlisten = "127.0.0.1:1"\nlistn = 3\n', 3, "server.listn is unknown"),
    ('# site\n\n[network]\nlease_time = "forever"\n', 4, "network.lease_time: 'forever' is not a duration"),
    ('[hypervisor]\nshutdown_timeout = -1\n', 2, "hypervisor.shutdown_timeout: -1.0 is below the minimum 0"),
    ('[server]\njob_workers = 2.7\n', 2, "server.job_workers: 2.7 is not a whole number"),
    ('[server]\njob_workers = true\n', 2, "server.job_workers: True is not a whole number"),
    ('[server]\nlisten = "nonsense"\n', 2, "server.listen: 'nonsense' is not HOST:PORT"),
    ('[server]\nlisten = "127.0.0.1:99999"\n', 2, "is not HOST:PORT with a port of 0-65535"),
    ('[server]\nlog_level = "loud"\n', 2, "server.log_level: 'loud' is not one of 'debug'"),
    ('# top\nserver = 5\n', 2, "setting server must be a table"),
    ('[server]\ndatabase_url = "mysql://u@h/db"\n', 2, "'mysql' databases are not supported"),
    ('[storage]\ndefault_pool = "x"\n[storage.pools.x]\nbackend = "nfs"\n', 4,
     "storage.pools.x.backend: 'nfs' is unknown"),
    ('[auth]\nchain = ["password", "kerberos"]\n', 2, "auth.chain: 'kerberos' is not one of"),
    ('[auth.ldap]\ntimeout = "soon"\n', 2, "auth.ldap.timeout: 'soon' is not a number"),
])
def test_config_check_names_the_bad_key_and_its_line(tmp_path: Path, body: str, line: int,
                                                     message: str) -> None:
    cfg = tmp_path / "site.toml"
    cfg.write_text(body)
    res = CliRunner().invoke(main, ["config", "check", str(cfg)])
    assert res.exit_code == 2
    assert f"Error: {cfg} line {line}: setting " in res.output
    assert message in res.output


def test_config_check_accepts_a_good_file_and_refuses_broken_toml(tmp_path: Path) -> None:
    cfg = tmp_path / "site.toml"
    cfg.write_text('[server]\nlisten = "[::1]:0"\njob_workers = 2\n[qemu]\naccel = "tcg"\n')
    res = CliRunner().invoke(main, ["config", "check", str(cfg)])
    assert (res.exit_code, res.output) == (0, f"{cfg}: ok\n")
    cfg.write_text("[server\n")
    res = CliRunner().invoke(main, ["config", "check", str(cfg)])
    assert res.exit_code == 2 and "is not valid TOML" in res.output
    res = CliRunner().invoke(main, ["config", "check", str(tmp_path / "nope.toml")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_line_of_finds_dotted_and_nested_keys() -> None:
    text = '[server]\nlisten = "x"\n\n[storage.pools."fast"]\nbackend = "nfs"\n'
    assert line_of(text, "server.listen") == 2
    assert line_of(text, "storage.pools.fast.backend") == 5
    assert line_of(text, "storage.pools.fast.path") == 4
    assert line_of(text, "qemu.accel") is None


def test_config_check_accepts_any_installed_driver_and_names_an_uninstalled_one(
        tmp_path: Path) -> None:
    cfg = tmp_path / "site.toml"
    cfg.write_text('[hypervisor]\ndriver = "libvirt"\n')
    assert CliRunner().invoke(main, ["config", "check", str(cfg)]).exit_code == 0
    cfg.write_text('# site\n[hypervisor]\ndriver = "xen"\n')
    res = CliRunner().invoke(main, ["config", "check", str(cfg)])
    assert res.exit_code == 2
    assert f"{cfg} line 3: setting hypervisor.driver: 'xen' is unknown" in res.output
    assert "choose one of: libvirt, qemu, simulated" in res.output
