"""Fixtures for data-plane tests: network namespaces created here and always removed, endpoints
that stand in for guests (a namespace holding the veth peer of a NIC), and small helpers to run
busybox inside them.  Nothing here sends a packet outside the namespaces it creates.
"""

from __future__ import annotations

import itertools
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.waits import wait_until

from stratuslab.core.errors import DriverError
from stratuslab.drivers import _process
from stratuslab.drivers.network.bridge import links
from stratuslab.drivers.network.bridge.namespace import create_netns, delete_netns

UDHCPC_SCRIPT = """#!/bin/sh
# busybox udhcpc hook: apply the offered address and default route
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "$router" dev "$interface"
    ;;
esac
exit 0
"""


def _require() -> None:
    if os.geteuid() != 0:
        pytest.skip("data-plane tests need root (network namespaces)")
    missing = [t for t in ("ip", "nft", "dnsmasq", "busybox") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"data-plane tests need {', '.join(missing)} (run scripts/setup.sh)")


class NetKit:
    """Namespaces for one test module, deleted on teardown even when a test fails."""

    _seq = itertools.count()

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.made: list[str] = []
        self.children: list[object] = []
        self.script = workdir / "udhcpc.sh"
        self.script.write_text(UDHCPC_SCRIPT)
        self.script.chmod(0o755)

    def netns(self, role: str) -> str:
        name = f"slt{os.getpid() % 100000}-{next(self._seq)}-{role}"[:40]
        create_netns(name)
        self.made.append(name)
        # endpoints: addresses usable at once (no DAD wait), accept router advertisements
        self.run(name, "sysctl", "-q", "-w", "net.ipv6.conf.default.accept_dad=0",
                 "net.ipv6.conf.all.accept_dad=0")  # fmt: skip
        return name

    def run(self, ns: str, *argv: str, timeout: float = 20, check: bool = True) -> _process.Result:
        return _process.run(["ip", "netns", "exec", ns, *argv], timeout=timeout, check=check)

    def attach(self, peer: str, *, from_ns: str | None, ns: str) -> None:
        """Move a NIC's veth peer into endpoint namespace `ns` as eth0, link up."""
        links.move_to_netns(peer, netns=from_ns, target=ns, new_name="eth0")
        links.set_up("eth0", netns=ns)

    def dhcp(self, ns: str) -> str:
        """Run busybox udhcpc once; return the IPv4 address eth0 ends up with."""
        self.run(ns, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "8", "-T", "1",
                 "-s", str(self.script), timeout=30)  # fmt: skip
        return self.ipv4(ns)

    def ipv4(self, ns: str) -> str:
        out = self.run(ns, "ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout
        return out.split()[3].split("/")[0] if out.strip() else ""

    def wait_ipv6(self, ns: str, address: str, timeout: float = 20) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.run(ns, "ip", "-6", "-o", "addr", "show", "dev", "eth0").stdout
            if f" {address}/" in out:
                return True
            time.sleep(0.2)
        return False

    def ping(self, ns: str, address: str, *, tries: int = 5, source: str | None = None) -> bool:
        argv = ["busybox", "ping", "-c", "1", "-W", "1"]
        if ":" in address:
            argv.append("-6")
        if source:
            argv += ["-I", source]
        for _ in range(tries):
            if self.run(ns, *argv, address, check=False).returncode == 0:
                return True
        return False

    def tcp_connects(self, ns: str, address: str, port: int) -> bool:
        res = self.run(ns, "busybox", "nc", "-w", "2", address, str(port), check=False)
        return res.returncode == 0

    def listen(self, ns: str, port: int) -> None:
        """A persistent busybox nc listener that answers each connection and closes it; returns
        once its socket is listening (a "port closed" check is only worth something then)."""
        proc = _process.spawn(
            ["ip", "netns", "exec", ns, "busybox", "nc", "-ll", "-p", str(port), "-e", "/bin/true"]
        )
        self.children.append(proc)
        wait_until(lambda: self.listening(ns, port), timeout=20,
                   message=f"nothing listens on TCP {port} in {ns}")

    def listening(self, ns: str, port: int) -> bool:
        """A TCP socket in `ns` listens on `port` (seen by the kernel, no packet sent)."""
        out = self.run(ns, "ss", "-Hltn", f"sport = :{port}").stdout
        return f":{port} " in out

    def close(self) -> None:
        for proc in self.children:
            proc.kill()  # type: ignore[attr-defined]
            proc.wait(5)  # type: ignore[attr-defined]
        for name in reversed(self.made):
            try:
                delete_netns(name)
            except DriverError:
                pass


@pytest.fixture(scope="module")
def netkit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetKit]:
    _require()
    kit = NetKit(tmp_path_factory.mktemp("netkit"))
    try:
        yield kit
    finally:
        kit.close()
