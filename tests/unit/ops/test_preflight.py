"""`stratus-server preflight` names what a host lacks for its settings and how to fix it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from stratuslab.__main__ import main
from stratuslab.ops.preflight import Host, run_checks
from stratuslab.settings import load_settings


def bare_host(**overrides: object) -> Host:
    """A host with nothing installed, no KVM, a small disk, an old clock, not root."""
    values: dict[str, object] = {
        "which": lambda _name: None, "exists": lambda path: path == "/",
        "free_bytes": lambda _path: 512 << 20, "output": lambda _argv: None,
        "kvm": lambda: (False, "/dev/kvm is missing or not writable"),
        "is_root": lambda: False, "now": lambda: datetime(1970, 1, 2, tzinfo=UTC)}
    values.update(overrides)
    return Host(**values)  # type: ignore[arg-type]


def test_a_bare_host_fails_with_every_missing_piece_and_its_fix(tmp_path: Path) -> None:
    settings = load_settings(None, env={}, overrides={
        "server": {"data_dir": str(tmp_path / "d")},
        "storage": {"pools": {"default": {"backend": "iscsi"}}}})
    checks = {c.name: c for c in run_checks(settings, bare_host())}
    expected_fails = {"qemu": "apt-get install qemu-system-x86", "qemu-img": "apt-get install "
                      "qemu-utils", "nftables": "apt-get install nftables",
                      "dnsmasq": "apt-get install dnsmasq-base", "iproute2": "apt-get install "
                      "iproute2", "tgt": "apt-get install tgt", "bridges": "CONFIG_BRIDGE",
                      "privileges": "as root", "disk": "free space", "clock": "NTP client"}
    for name, fix in expected_fails.items():
        assert checks[name].level == "FAIL", checks[name]
        assert fix in checks[name].fix
    assert checks["kvm"].level == "warn" and "TCG" in checks["kvm"].found
    assert checks["database"].level == "warn" and "db upgrade --create" in checks["database"].fix


def test_kvm_demanded_but_missing_fails_and_tcg_needs_no_kvm(tmp_path: Path) -> None:
    def kvm_of(accel: str) -> str:
        s = load_settings(None, env={}, overrides={"server": {"data_dir": str(tmp_path)},
                                                   "qemu": {"accel": accel}})
        return next(c.level for c in run_checks(s, bare_host()) if c.name == "kvm")

    assert (kvm_of("kvm"), kvm_of("tcg"), kvm_of("auto")) == ("FAIL", "ok", "warn")


def test_simulated_cloud_needs_no_host_tools(tmp_path: Path) -> None:
    s = load_settings(None, env={}, overrides={"server": {"data_dir": str(tmp_path)},
                                               "hypervisor": {"driver": "simulated"}})
    host = bare_host(free_bytes=lambda _p: 50 << 30, now=lambda: datetime.now(UTC),
                     output=lambda _argv: "yes\n")
    levels = {c.name: c.level for c in run_checks(s, host)}
    assert levels == {"hypervisor": "ok", "disk": "ok", "clock": "ok", "database": "warn"}


def test_preflight_command_on_this_host_prints_every_check(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["preflight", "--data-dir", str(tmp_path)])
    names = [line.split()[1] for line in res.output.splitlines() if not line.startswith(" ")]
    assert names[:2] == ["qemu", "qemu-img"] and names[-3:] == ["disk", "clock", "database"]
    assert res.exit_code in (0, 1)
    assert not list(tmp_path.iterdir())  # checking creates nothing
