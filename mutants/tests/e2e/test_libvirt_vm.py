"""The libvirt driver end to end: a real guest (TCG) on the node's own libvirtd, through the
server and the CLI, with its NIC on the data plane in the test's namespaces."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator

import pytest
from tests.helpers.servers import CACHE, Server, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def libvirt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from stratuslab.drivers.network.bridge.namespace import create_netns, delete_netns

    base = tmp_path_factory.mktemp("libvirtvm")
    host, plane = (f"slt{os.getpid() % 100000}-lv{role}" for role in ("host", "dp"))
    create_netns(host)
    cfg = base / "cfg.toml"
    cfg.write_text(f'[images]\nbuild_cache = "{CACHE}/images"\n'
                   '[hypervisor]\ndriver = "libvirt"\nshutdown_timeout = 10\n'
                   f'[network]\nhost_netns = "{host}"\nnetns = "{plane}"\n')
    srv = Server(base / "data", free_port(), args=["--config", str(cfg)])
    try:
        srv.start(timeout=90)
        yield srv
        for vm in srv.cli_json("describe-instance"):
            srv.cli("kill-instance", str(vm["id"]), check=False)
    finally:
        srv.stop()
        srv.reap()  # the managed libvirtd and its QEMUs run with the data directory in argv
        for ns in (plane, host):
            delete_netns(ns)


def wait_for(srv: Server, what: str, check, timeout: float = 240):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout} s; server log:\n{srv.log()[-3000:]}")


def test_libvirt_guest_boots_contextualized_survives_server_restart_suspends_and_is_killed(
    libvirt_server: Server,
) -> None:
    srv = libvirt_server
    tiny = srv.cli("image", "build", "tiny").stdout.strip()
    [vm] = srv.cli_json("run-instance", tiny, "--vm-name", "lv", "-t", "t1.micro", "--ram", "128")
    vm_id = vm["id"]

    def console() -> str:
        return srv.cli("console", str(vm_id), check=False).stdout

    text = wait_for(srv, "the ready line",
                    lambda: re.search(r"^stratuslab-ready hostname=lv ipv4=(\S+)", console(), re.M))
    assert text.group(1) == vm["ip"]  # the contextualized address on the data plane's NIC

    srv.kill()  # SIGKILL: the libvirtd and its guest keep running; the restart finds them
    srv.start(timeout=90)
    [again] = srv.cli_json("describe-instance")
    assert (again["id"], again["state"]) == (vm_id, "running")

    srv.cli("suspend-instance", str(vm_id))
    wait_for(srv, "suspended", lambda: srv.cli_json("describe-instance", str(vm_id))[0]["state"] == "suspended")
    srv.cli("resume-instance", str(vm_id))
    wait_for(srv, "running", lambda: srv.cli_json("describe-instance", str(vm_id))[0]["state"] == "running")

    srv.cli("kill-instance", str(vm_id))
    wait_for(srv, "done", lambda: srv.cli_json("describe-instance", str(vm_id))[0]["state"] == "done")
    events = srv.cli("describe-instance", "-v", str(vm_id)).stdout
    assert "epilog -> done" in events
