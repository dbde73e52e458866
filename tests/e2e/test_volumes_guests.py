"""Issue 4 end to end with real guests and a real tgt: a stratus-server (QEMU, TCG) whose default
storage pool is iSCSI (tgtd inside the server's data-plane namespace, QEMU's own iSCSI client),
driven by the real CLI; what the guests see is read through their guest agent.  Two boots.
The target is part of the data plane (issue 13): it outlives a server stop (SIGTERM or SIGKILL),
is adopted at start, and only `stratus-server remove-data-plane` stops it."""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.servers import CACHE, Server, free_port, wait_console, wait_state

from stratuslab.core.volumes import disk_name_for
from stratuslab.drivers.hypervisor.guestagent import run_in_guest

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def san_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from stratuslab.drivers.network.bridge.namespace import create_netns, delete_netns

    base = tmp_path_factory.mktemp("volguests")
    # the data plane (guests, QEMU's iSCSI client, tgtd) and the host end of its uplink live in
    # namespaces of this test, never on the real host
    host, plane = (f"slt{os.getpid() % 100000}-vg{role}" for role in ("host", "dp"))
    create_netns(host)
    control = random.choice(
        [p for p in range(22000, 22999) if not os.path.exists(f"/var/run/tgtd/socket.{p}")]
    )
    cfg = base / "cfg.toml"
    cfg.write_text(
        f'[images]\nbuild_cache = "{CACHE}/images"\n[qemu]\naccel = "tcg"\n'
        '[hypervisor]\nshutdown_timeout = 10\n'
        '[storage.pools.default]\nbackend = "iscsi"\nportal = "127.0.0.1:3260"\n'
        f"control_port = {control}\n"
        f'[network]\nhost_netns = "{host}"\nnetns = "{plane}"\n'
    )
    srv = Server(base / "data", free_port(), args=["--config", str(cfg)])
    try:
        srv.start()
        yield srv
        for vm in srv.cli_json("describe-instance"):
            srv.cli("kill-instance", str(vm["id"]), check=False)
        srv.stop()
        tgtd = tgtd_pid(srv)
        assert tgtd is not None and alive(tgtd)  # a server stop leaves the target serving
        srv.reap()  # stratus-server remove-data-plane: stops it
        assert not alive(tgtd) and tgtd_pid(srv) is None
    finally:
        srv.stop()
        srv.reap()
        _kill_tgtd(srv)
        for ns in (plane, host):
            delete_netns(ns)


def tgtd_pid(srv: Server) -> int | None:
    """The pool's tgtd (its pid file), None when there is none."""
    for pid_file in (srv.data_dir / "tgt").glob("tgtd-*.pid"):
        try:
            return int(pid_file.read_text().split()[0])
        except (FileNotFoundError, ValueError):
            return None
    return None


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _kill_tgtd(srv: Server) -> None:
    """Should a check above fail, the test still leaves no tgtd behind."""
    pid = tgtd_pid(srv)
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def sh(srv: Server, vm_id: int, command: str) -> str:
    agent = str(srv.data_dir / "instances" / str(vm_id) / "agent.sock")
    rc, out = run_in_guest(agent, command, timeout=120)
    assert rc == 0, f"VM {vm_id}: {command}: {out}"
    return out


def device_of(srv: Server, vm_id: int, uuid: str, *, present: bool = True) -> str:
    """The guest's block device whose virtio serial is the volume's disk name."""
    serial = disk_name_for(uuid)
    probe = f'for d in /sys/block/vd*; do [ "$(cat $d/serial 2>/dev/null)" = {serial} ] && ' \
            'echo ${d##*/}; done; true'
    deadline = time.monotonic() + 60
    while True:
        found = sh(srv, vm_id, probe).strip()
        if bool(found) == present or time.monotonic() > deadline:
            assert bool(found) == present, f"volume {uuid} present={not present} in VM {vm_id}"
            return found
        time.sleep(0.3)


def refused(srv: Server, *args: str) -> str:
    res = srv.cli(*args, check=False)
    assert res.returncode != 0 and res.stderr.startswith("Error: "), res.stderr + res.stdout
    return res.stderr


def test_volume_outlives_its_vm_one_writer_hotplug_and_server_restart(san_server: Server) -> None:
    srv = san_server
    tiny = srv.cli("image", "build", "tiny").stdout.strip()
    data = srv.cli("create-volume", "-s", "1", "-t", "notes").stdout.split()[1]

    # VM A boots with the volume and writes a file on it
    [a] = srv.cli_json("run-instance", tiny, "--vm-name", "wren", "--ram", "128",
                       "--persistent-disk", data)  # fmt: skip
    wait_console(srv, a["id"], r"^stratuslab-ready hostname=wren\b")
    dev = device_of(srv, a["id"], data)
    sh(srv, a["id"], f"mke2fs -q /dev/{dev} && mkdir -p /mnt/v && mount /dev/{dev} /mnt/v && "
                     "echo 'written by wren' > /mnt/v/note.txt && umount /mnt/v && sync")

    # one writer: a second VM cannot take it, and it cannot be deleted while attached
    [b] = srv.cli_json("run-instance", tiny, "--vm-name", "finch", "--ram", "128")
    wait_console(srv, b["id"], r"^stratuslab-ready hostname=finch\b")
    assert f"attached to VM {a['id']}" in refused(srv, "attach-volume", "-i", str(b["id"]), data)
    assert f"attached to VM {a['id']}" in refused(srv, "delete-volume", data)

    # the server dies (kill -9) and comes back: the attachment and the guest's disk are intact
    srv.kill()
    srv.start()
    [vol] = srv.cli_json("describe-volumes", data)
    assert vol["attached_to"] == [a["id"]]
    still = sh(srv, a["id"], f"mount -o ro /dev/{dev} /mnt/v && cat /mnt/v/note.txt && umount /mnt/v")
    assert still.strip() == "written by wren"

    # a clean stop (SIGTERM) and start: the guest keeps its disk while no server runs and after,
    # read past the guest's caches, and the new server adopts the same tgtd
    tgtd = tgtd_pid(srv)
    reread = (f"sync && echo 3 > /proc/sys/vm/drop_caches && mount -o ro /dev/{dev} /mnt/v && "
              "cat /mnt/v/note.txt && umount /mnt/v")  # fmt: skip
    srv.stop()
    assert sh(srv, a["id"], reread).strip() == "written by wren"
    srv.start()
    assert tgtd is not None and tgtd_pid(srv) == tgtd and alive(tgtd)
    assert sh(srv, a["id"], reread).strip() == "written by wren"

    # hot-plug and hot-unplug of a second volume, seen from inside VM B
    spare = srv.cli("create-volume", "-s", "1").stdout.split()[1]
    out = srv.cli("attach-volume", "-i", str(b["id"]), spare).stdout.split()
    assert out[:4] == ["ATTACHED", spare, "VM", str(b["id"])] and out[5].startswith("vd")
    assert device_of(srv, b["id"], spare) == out[5]
    srv.cli("detach-volume", "-i", str(b["id"]), spare)
    device_of(srv, b["id"], spare, present=False)

    # killing A detaches the volume intact; its root volume goes to quarantine
    srv.cli("kill-instance", str(a["id"]))
    wait_state(srv, a["id"], "done")
    [vol] = srv.cli_json("describe-volumes", data)
    assert vol["attached_to"] == [] and vol["state"] == "ready" and vol["owner"] == "admin"
    assert a["id"] in {v["vm_id"] for v in srv.cli_json("storage", "quarantine", "list")}

    # B hot-plugs the volume and reads the file A wrote
    out = srv.cli("attach-volume", "-i", str(b["id"]), data).stdout.split()
    dev_b = out[5]
    assert device_of(srv, b["id"], data) == dev_b
    note = sh(srv, b["id"], f"mkdir -p /mnt/v && mount -o ro /dev/{dev_b} /mnt/v && "
                            "cat /mnt/v/note.txt && umount /mnt/v")  # fmt: skip
    assert note.strip() == "written by wren"
    srv.cli("detach-volume", "-i", str(b["id"]), data)
    srv.cli("kill-instance", str(b["id"]))
    srv.cli("delete-volume", data, spare)
