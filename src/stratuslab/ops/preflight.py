"""`stratus-server preflight`: does this host have what the settings need?  Each check says
ok, warn (works, but worse) or FAIL (will not work), what it found, and how to fix it.

The host is reached through a small `Host` (which / path exists / disk usage / a command), so a
test can describe a bare host without touching the real one.
"""

from __future__ import annotations

import os
import platform
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import click

from stratuslab.core.errors import CloudError, DriverError
from stratuslab.drivers import _process
from stratuslab.drivers.hypervisor.qemu.accel import static_kvm_verdict
from stratuslab.ops.common import config_option, data_dir_option, fail, load
from stratuslab.persistence import db as dbm
from stratuslab.settings import Settings

APT = "apt-get install"
GIB = 1 << 30


def _command_output(argv: list[str]) -> str | None:
    try:
        return _process.run(argv, timeout=10).stdout
    except DriverError:
        return None


@dataclass
class Host:
    which: Callable[[str], str | None] = shutil.which
    exists: Callable[[str], bool] = os.path.exists
    free_bytes: Callable[[str], int] = field(default=lambda p: shutil.disk_usage(p).free)
    output: Callable[[list[str]], str | None] = _command_output
    kvm: Callable[[], tuple[bool, str]] = static_kvm_verdict
    is_root: Callable[[], bool] = field(default=lambda: os.geteuid() == 0)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Check:
    name: str
    level: str  # ok | warn | FAIL
    found: str
    fix: str = ""


def _tool(host: Host, name: str, binary: str, package: str, why: str) -> Check:
    path = host.which(binary)
    if path:
        return Check(name, "ok", f"{binary} at {path}")
    return Check(name, "FAIL", f"{binary} is not installed ({why})", f"{APT} {package}")


def run_checks(settings: Settings, host: Host) -> list[Check]:
    checks: list[Check] = []
    qemu = settings.hypervisor.driver == "qemu"
    network = settings.network.driver or ("simulated" if not qemu else "bridge")
    if qemu:
        checks.append(_tool(host, "qemu", settings.qemu.binary, "qemu-system-x86",
                            "the hypervisor driver is qemu"))
        checks.append(_tool(host, "qemu-img", "qemu-img", "qemu-utils", "disk images"))
        usable, why = host.kvm()
        if settings.qemu.accel == "tcg":
            checks.append(Check("kvm", "ok", "not used: [qemu] accel = \"tcg\""))
        elif usable:
            checks.append(Check("kvm", "ok", f"KVM usable: {why}"))
        else:
            level = "FAIL" if settings.qemu.accel == "kvm" else "warn"
            checks.append(Check("kvm", level, f"no KVM, guests run under TCG emulation (slow): "
                                f"{why}", "enable virtualization in the firmware and load "
                                "kvm_intel or kvm_amd (or set [qemu] accel = \"tcg\")"))
    else:
        checks.append(Check("hypervisor", "ok", f"driver {settings.hypervisor.driver}: "
                            "no host tools needed"))
    if network == "bridge":
        checks.append(_tool(host, "iproute2", "ip", "iproute2", "bridges, taps, namespaces"))
        modules = f"/lib/modules/{platform.release()}/kernel/net/bridge"
        if host.exists("/sys/module/bridge") or host.exists(modules):
            checks.append(Check("bridges", "ok", "the kernel has Linux bridges"))
        else:
            checks.append(Check("bridges", "FAIL", "the kernel has no bridge module",
                                "install the kernel's modules (linux-image-*) or build in "
                                "CONFIG_BRIDGE"))
        checks.append(_tool(host, "nftables", "nft", "nftables", "security groups"))
        checks.append(_tool(host, "dnsmasq", "dnsmasq", "dnsmasq-base", "DHCP for guests"))
        if not host.is_root():
            checks.append(Check("privileges", "FAIL", "not root: the data plane (network "
                                "namespaces, bridges, nftables) needs root",
                                "run the server (or stratus-node) as root"))
    if any(dict(p).get("backend") == "iscsi" for p in settings.storage.pools.values()):
        checks.append(_tool(host, "tgt", "tgtd", "tgt", "a storage pool uses iscsi"))
    checks.append(_disk(settings, host))
    checks.append(_clock(host))
    checks.append(_database(settings))
    return checks


def _disk(settings: Settings, host: Host) -> Check:
    where = settings.data_dir
    while not host.exists(str(where)) and where != where.parent:
        where = where.parent
    free = host.free_bytes(str(where))
    found = f"{free / GIB:.1f} GiB free for {settings.data_dir}"
    if free < GIB:
        return Check("disk", "FAIL", found, "free space or move [server] data_dir")
    if free < 10 * GIB:
        return Check("disk", "warn", found + " (images and disks need more)",
                     "free space or move [server] data_dir")
    return Check("disk", "ok", found)


def _clock(host: Host) -> Check:
    now = host.now()
    if now.year < 2025:
        return Check("clock", "FAIL", f"the clock says {now:%Y-%m-%d}: certificates and tokens "
                     "will be judged wrongly", "set the time and run an NTP client")
    synced = host.output(["timedatectl", "show", "--property=NTPSynchronized", "--value"])
    if synced is not None and synced.strip() == "yes":
        return Check("clock", "ok", f"{now:%Y-%m-%d %H:%M} UTC, synchronised by NTP")
    return Check("clock", "warn", f"{now:%Y-%m-%d %H:%M} UTC; NTP synchronisation not confirmed",
                 f"{APT} systemd-timesyncd (or chrony)")


def _database(settings: Settings) -> Check:
    url = settings.database_url
    if not dbm.exists(url):
        return Check("database", "warn", f"no database yet at {dbm.sqlite_path(url)}",
                     f"stratus-server db upgrade --create --data-dir {settings.data_dir}")
    try:
        engine = dbm.make_engine(url)
        try:
            current, head = dbm.current_revision(engine), dbm.head_revision()
        finally:
            engine.dispose()
    except Exception as exc:  # any driver error: the check reports it instead of crashing
        return Check("database", "FAIL", f"cannot open the database: {exc}".splitlines()[0],
                     "check [server] database_url and that the database server runs")
    if current != head:
        return Check("database", "FAIL", f"schema {current or 'empty'}, this server needs {head}",
                     "stratus-server db upgrade (back up first: stratus-server backup DEST)")
    return Check("database", "ok", f"schema {head} (current)")


@click.command("preflight")
@config_option
@data_dir_option
def preflight(config: str | None, data_dir: str | None) -> None:
    """Check this host for what the settings need; say what is missing and how to fix it."""
    try:
        checks = run_checks(load(config, data_dir), Host())
    except CloudError as exc:
        fail(exc)
    for c in checks:
        click.echo(f"{c.level:<4}  {c.name:<10}  {c.found}" + (f"\n      fix: {c.fix}" if c.fix
                                                              and c.level != "ok" else ""))
    failed = [c.name for c in checks if c.level == "FAIL"]
    if failed:
        click.echo(f"Error: {len(failed)} check(s) failed: {', '.join(failed)}", err=True)
        raise SystemExit(1)
