"""Issue 7 with a real guest: pyone instantiates an OpenNebula template on the QEMU driver (TCG);
the OpenNebula context (CONTEXT=[HOSTNAME=...]) reaches the guest, the NIC that one.vm.info
shows is the address the guest reports, and `terminate` shuts it down to DONE."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pyone
import pytest
from tests.helpers.servers import CACHE, Server, free_port, wait_console

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def qemu_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("xmlrpc-realvm")
    cfg = base / "cfg.toml"
    cfg.write_text(
        f'[images]\nbuild_cache = "{CACHE}/images"\n[qemu]\naccel = "tcg"\n'
        "[hypervisor]\nshutdown_timeout = 20\n"
    )
    srv = Server(base / "data", free_port(), args=["--config", str(cfg)])
    srv.start()
    yield srv
    try:
        for vm in srv.cli_json("describe-instance"):
            srv.cli("kill-instance", str(vm["id"]), check=False)
    finally:
        srv.stop()
        srv.reap()


def wait_for(one: Any, vm_id: int, done: Callable[[Any], bool], timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    info = one.vm.info(vm_id)
    while not done(info):
        assert info.STATE != 7, f"VM {vm_id} failed: {info.USER_TEMPLATE}"  # FAILED
        assert time.monotonic() < deadline, f"VM {vm_id}: STATE {info.STATE}/{info.LCM_STATE}"
        time.sleep(0.5)
        info = one.vm.info(vm_id)
    return info


def test_template_instantiated_over_xmlrpc_boots_a_contextualized_guest(
    qemu_server: Server,
) -> None:
    srv = qemu_server
    image = int(srv.cli("image", "build", "tiny").stdout.strip())
    admin = pyone.OneServer(f"{srv.endpoint}/one/7.4/RPC2", session="admin:adminpw")
    admin.user.allocate("carol", "carol-pw", "core", [])
    carol = pyone.OneServer(f"{srv.endpoint}/one/7.4/RPC2", session="carol:carol-pw")
    template = carol.template.allocate(
        f'NAME="tiny"\nCPU="1"\nVCPU="1"\nMEMORY="128"\nDISK=[IMAGE_ID="{image}"]\n'
        'NIC=[NETWORK="public"]\nCONTEXT=[HOSTNAME="one-ctx", SSH_PUBLIC_KEY="ssh-ed25519 AAAA c"]'
    )
    vm_id = carol.template.instantiate(template, "guest", False, "", False)

    info = wait_for(carol, vm_id, lambda i: (i.STATE, i.LCM_STATE) == (3, 3))
    nic_ip = info.TEMPLATE["NIC"]["IP"]
    console = wait_console(srv, vm_id, r"^stratuslab-ready hostname=one-ctx\b")
    ready = re.search(r"^stratuslab-ready .*$", console, re.M)
    assert ready is not None and nic_ip in ready.group(0)
    assert info.HISTORY_RECORDS.HISTORY[0].HOSTNAME == "localhost"
    assert info.TEMPLATE["DISK"]["IMAGE_ID"] == str(image)

    carol.vm.action("terminate", vm_id)  # ACPI shutdown, then the epilog
    done = wait_for(carol, vm_id, lambda i: i.STATE == 6)
    assert done.ETIME >= done.STIME > 0
