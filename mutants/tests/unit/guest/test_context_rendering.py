"""Context documents: hostile values stay literal, network facts are validated and matched by MAC.

The documents are read back with the tiny guest's own parser (busybox awk) and, for context.sh,
sourced by a real POSIX shell the way OpenNebula guests do.
"""

from __future__ import annotations

import json
import os
import shutil
from importlib import resources
from pathlib import Path

import pytest

from stratuslab.core.errors import InvalidInput
from stratuslab.core.instance import ContextSpec
from stratuslab.drivers import _process
from stratuslab.drivers.storage.instance import context

HOSTILE = "x'; touch PWNED; echo '$(touch PWNED)`touch PWNED`\"\\ #\n--- !!python/object"
BUSYBOX = shutil.which("busybox")
needs_busybox = pytest.mark.skipif(BUSYBOX is None, reason="busybox is not installed")


def spec(**kw: object) -> ContextSpec:
    base: dict[str, object] = {
        "instance_id": "vm-7",
        "hostname": "alpha",
        "ssh_keys": ("ssh-ed25519 AAAAC3Nza test@example",),
        "networks": ({"mac": "52:54:00:12:34:56", "ip": "10.1.0.5", "prefix": "24",
                      "gateway": "10.1.0.1", "ipv6": "fd00::5054:ff:fe12:3456",
                      "dns": "10.1.0.1"},),
    }
    base.update(kw)
    return ContextSpec(**base)  # type: ignore[arg-type]


def guest_parse(tmp_path: Path, text: str, *args: str) -> str:
    awk = resources.files("stratuslab.drivers.storage.tinyimage") / "guest-parse.awk"
    doc = tmp_path / "doc"
    doc.write_text(text)
    argv = [str(BUSYBOX), "awk", *args, "-f", str(awk), str(doc)]
    return _process.run(argv, timeout=10).stdout


def test_shell_quote_survives_single_quotes_and_expansions() -> None:
    assert context.shell_quote("it's $(x)") == "'it'\\''s $(x)'"


def test_context_sh_has_upper_case_keys_for_network_hostname_and_keys() -> None:
    text = context.context_sh(spec(method="one", extra={"my-var": "v"}))
    assert "ETH0_MAC='52:54:00:12:34:56'\n" in text
    assert "ETH0_IP='10.1.0.5'\n" in text
    assert "ETH0_MASK='255.255.255.0'\n" in text
    assert "ETH0_GATEWAY='10.1.0.1'\n" in text
    assert "ETH0_IP6='fd00::5054:ff:fe12:3456'\n" in text
    assert "SET_HOSTNAME='alpha'\n" in text
    assert "SSH_PUBLIC_KEY='ssh-ed25519 AAAAC3Nza test@example'\n" in text
    assert "MY_VAR='v'\n" in text


def test_sourcing_context_sh_with_hostile_values_runs_nothing(tmp_path: Path) -> None:
    text = context.context_sh(spec(hostname=HOSTILE, extra={"note": HOSTILE}))
    (tmp_path / "context.sh").write_text(text)
    script = '. ./context.sh; printf "%s" "$NOTE" > note.out; printf "%s" "$SET_HOSTNAME" > host.out'
    _process.run(["sh", "-c", script], timeout=10, cwd=str(tmp_path))
    assert not (tmp_path / "PWNED").exists()
    assert (tmp_path / "note.out").read_text() == HOSTILE
    assert (tmp_path / "host.out").read_text() == HOSTILE


@needs_busybox
def test_guest_parser_reads_hostile_context_sh_values_literally(tmp_path: Path) -> None:
    text = context.context_sh(spec(hostname=HOSTILE, ssh_keys=("k1 a", "k2 b")))
    out = tmp_path / "ctx"
    out.mkdir()
    guest_parse(tmp_path, text, "-v", "mode=shellvars", "-v", f"out={out}")
    assert (out / "SET_HOSTNAME").read_text() == HOSTILE
    assert (out / "SSH_PUBLIC_KEY").read_text() == "k1 a\nk2 b"
    assert (out / "ETH0_IP").read_text() == "10.1.0.5"
    assert not (tmp_path / "PWNED").exists()
    assert sorted(os.listdir(out))[0] == "ETH0_DNS"


def test_meta_data_quotes_values_as_yaml_strings() -> None:
    text = context.meta_data(spec(hostname=HOSTILE))
    line = next(ln for ln in text.splitlines() if ln.startswith("local-hostname: "))
    assert json.loads(line.removeprefix("local-hostname: ")) == HOSTILE
    assert "\n--- " not in text  # a newline in a value cannot start a new YAML document


@needs_busybox
def test_guest_parser_reads_hostname_and_keys_from_user_data(tmp_path: Path) -> None:
    text = context.user_data(spec(hostname="web-1", ssh_keys=("ssh-rsa AAA a #1", "k2")))
    assert text.startswith("#cloud-config\n")
    assert guest_parse(tmp_path, text, "-v", "mode=scalar", "-v", "want=hostname") == "web-1\n"
    keys = guest_parse(tmp_path, text, "-v", "mode=list", "-v", "want=ssh_authorized_keys")
    assert keys == "ssh-rsa AAA a #1\nk2\n"


def test_user_data_of_the_user_is_passed_unchanged() -> None:
    mine = "#!/bin/sh\necho hello\n"
    assert context.user_data(spec(user_data=mine)) == mine


@needs_busybox
def test_network_config_matches_nics_by_mac_with_static_addresses(tmp_path: Path) -> None:
    second = {"mac": "52:54:00:AA:BB:CC"}
    text = context.network_config(spec(networks=(spec().networks[0], second)))
    assert text is not None and text.startswith("version: 2\n")
    records = guest_parse(tmp_path, text, "-v", "mode=netcfg").splitlines()
    assert records == [
        "eth0 mac 52:54:00:12:34:56",
        "eth0 addr 10.1.0.5/24",
        "eth0 addr fd00::5054:ff:fe12:3456/64",
        "eth0 gw4 10.1.0.1",
        "eth0 dns 10.1.0.1",
        "eth1 mac 52:54:00:aa:bb:cc",
        "eth1 dhcp4 true",
    ]


def test_network_config_is_absent_without_nics() -> None:
    assert context.network_config(spec(networks=())) is None


@pytest.mark.parametrize(
    "facts",
    [
        {"mac": "52:54:00:12:34:56; reboot"},
        {"mac": "52:54:00:12:34:56", "ip": "10.0.0.300"},
        {"mac": "52:54:00:12:34:56", "ip": "10.0.0.3", "gateway": "$(reboot)"},
        {"mac": "52:54:00:12:34:56", "ipv6": "fd00::1\nx"},
    ],
)
def test_malformed_network_facts_are_refused_naming_the_vm(facts: dict[str, str]) -> None:
    with pytest.raises(InvalidInput, match="VM alpha: NIC 0"):
        context.network_config(spec(networks=(facts,)))


@pytest.mark.parametrize("key", ["ETH0_IP", "ssh_public_key", "bad key", "1X"])
def test_context_keys_that_clash_or_are_not_names_are_refused(key: str) -> None:
    with pytest.raises(InvalidInput, match="context key"):
        context.context_sh(spec(extra={key: "v"}))
