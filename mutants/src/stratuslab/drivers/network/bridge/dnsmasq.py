"""One dnsmasq per network: DHCPv4 with static host entries by MAC only (addresses come from
IPAM, never from a dynamic pool), router advertisements for IPv6 (SLAAC) or DHCPv6 for static
IPv6, no DNS (port 0), no system configuration.

It runs in the foreground in a session of its own (`_process.spawn`, inside the data-plane
namespace); host entries live in a hosts file that dnsmasq re-reads on SIGHUP.  It outlives the
server on purpose (guests keep their DHCP while the server restarts): `detach()` forgets it, and
the next `start()` adopts a dnsmasq found by its pid file when its command line is the one this
network needs, or replaces it when the network changed.  Imports core and drivers._process only.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import time
from pathlib import Path

from stratuslab.core.errors import DriverError
from stratuslab.core.network import Ipv6Mode, Lease, Network
from stratuslab.drivers import _process
from stratuslab.drivers._process import Process, TimeoutExpired


def gateway_v6(network: Network) -> str | None:
    if network.ipv6_prefix is None or network.ipv6_mode is Ipv6Mode.NONE:
        return None
    return str(ipaddress.IPv6Network(network.ipv6_prefix).network_address + 1)


def host_line(lease: Lease) -> str:
    name = f"vm-{lease.vm_id}" if lease.vm_id is not None else f"r-{lease.ip.replace('.', '-')}"
    v6 = f",[{lease.ipv6}]" if lease.ipv6 else ""
    return f"{lease.mac},{lease.ip}{v6},{name}"


def argv(network: Network, bridge: str, workdir: Path, lease_time: str) -> list[str]:
    if network.gateway is None:
        raise DriverError(
            f"network {network.name} has no gateway; dnsmasq needs an address on the bridge",
            hint="give the network a gateway, or configure the guests statically",
        )
    subnet = ipaddress.IPv4Network(network.subnet)
    args = [
        "dnsmasq",
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--port=0",
        "--bind-interfaces",
        f"--interface={bridge}",
        "--except-interface=lo",
        f"--listen-address={network.gateway}",
        f"--dhcp-range={subnet.network_address},static,{subnet.netmask},{lease_time}",
        f"--dhcp-hostsfile={workdir / 'hosts'}",
        f"--dhcp-leasefile={workdir / 'leases'}",
        f"--pid-file={workdir / 'pid'}",
        f"--log-facility={workdir / 'dnsmasq.log'}",
        "--log-dhcp",
        "--dhcp-authoritative",
        "--user=root",
        "--group=root",
        f"--dhcp-option=option:router,{network.gateway}",
    ]
    if network.dns:
        args.append(f"--dhcp-option=option:dns-server,{','.join(network.dns)}")
    if network.ipv6_prefix and network.ipv6_mode is Ipv6Mode.SLAAC:
        args += ["--enable-ra", f"--dhcp-range=::,constructor:{bridge},ra-only,64,{lease_time}"]
    elif network.ipv6_prefix and network.ipv6_mode is Ipv6Mode.STATIC:
        args += ["--enable-ra", f"--dhcp-range=::,constructor:{bridge},static,64,{lease_time}"]
    return args


class Dnsmasq:
    """The dnsmasq of one network in one namespace."""

    def __init__(self, network: Network, bridge: str, *, workdir: Path, netns: str | None) -> None:
        self.network = network
        self.bridge = bridge
        self.workdir = workdir
        self.netns = netns
        self._proc: Process | None = None
        self._adopted: int | None = None  # pid of a dnsmasq a previous server started

    @property
    def hosts_file(self) -> Path:
        return self.workdir / "hosts"

    def running(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        return self._adopted is not None and self._cmdline(self._adopted) is not None

    def start(self, lease_time: str = "1h") -> None:
        if self.running():
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.hosts_file.touch()
        args = argv(self.network, self.bridge, self.workdir, lease_time)
        if self._adopt(args):
            return
        self._kill_orphan()
        if self.netns:
            args = ["ip", "netns", "exec", self.netns, *args]
        self._proc = _process.spawn(args, stderr_path=str(self.workdir / "stderr"))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # dnsmasq writes its pid file once it listens
            if self._proc.poll() is not None:
                err = (self.workdir / "stderr").read_text(errors="replace").strip()[-1500:]
                self._proc = None
                raise DriverError(f"dnsmasq for network {self.network.name} exited: {err}")
            if (self.workdir / "pid").exists():
                return
            time.sleep(0.02)
        raise DriverError(f"dnsmasq for network {self.network.name} did not start within 5 s")

    def set_host(self, lease: Lease, *, present: bool) -> None:
        lines = [ln for ln in self._read_hosts() if not ln.startswith(lease.mac + ",")]
        if present:
            lines.append(host_line(lease))
        tmp = self.hosts_file.with_suffix(".tmp")
        tmp.write_text("".join(f"{ln}\n" for ln in sorted(lines)))
        os.replace(tmp, self.hosts_file)
        self.reload()

    def hosts(self) -> list[str]:
        return self._read_hosts()

    def reload(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGHUP)
        elif self._adopted is not None and self.running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._adopted, signal.SIGHUP)

    def detach(self) -> None:
        """Forget the process and leave it serving (a clean server stop keeps the data plane)."""
        self._proc, self._adopted = None, None

    def stop(self, timeout: float = 5.0) -> None:
        proc, self._proc, self._adopted = self._proc, None, None
        if proc is None:
            self._kill_orphan()
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        with contextlib.suppress(FileNotFoundError):
            (self.workdir / "pid").unlink()

    def _read_hosts(self) -> list[str]:
        try:
            return [ln.strip() for ln in self.hosts_file.read_text().splitlines() if ln.strip()]
        except FileNotFoundError:
            return []

    @staticmethod
    def _cmdline(pid: int) -> list[str] | None:
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            return None
        return raw.decode(errors="replace").rstrip("\0").split("\0") if raw else None

    def _adopt(self, args: list[str]) -> bool:
        """Take over the dnsmasq a previous server left, if it serves exactly `args`."""
        try:
            pid = int((self.workdir / "pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return False
        cmdline = self._cmdline(pid)
        if cmdline is None or cmdline[-len(args) :] != args:
            return False
        self._adopted = pid
        self.reload()  # the hosts file may have changed while nobody watched
        return True

    def _kill_orphan(self) -> None:
        """A dnsmasq whose pid file and command line are ours but that is not our child."""
        pidfile = self.workdir / "pid"
        try:
            pid = int(pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return
        finally:
            with contextlib.suppress(FileNotFoundError):
                pidfile.unlink()
        if str(self.hosts_file).encode() not in cmdline:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5  # its sockets must be free before a new one binds
        while time.monotonic() < deadline and self._cmdline(pid) is not None:
            time.sleep(0.02)
