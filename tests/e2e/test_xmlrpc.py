"""Issue 7 end to end: the OpenNebula XML-RPC API of a real stratus-server (simulated hypervisor)
driven by pyone (every answer parsed into its generated bindings) and by the standard library
client the way the 2014 StratusLab client spoke to /pswd/xmlrpc."""

from __future__ import annotations

import time
import xmlrpc.client
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pyone
import pytest
from tests.helpers.net import http_directory
from tests.helpers.servers import Server, free_port
from tests.helpers.waits import finished_job

pytestmark = pytest.mark.e2e

VERSION = "3.2.9"  # not the default: proves [xmlrpc] one_version reaches one.system.version
AUTH, NO_EXISTS, ACTION, API = 0x100, 0x400, 0x800, 0x1000
ALICE = ("alice", "alice-pw")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("xmlrpc")
    server = Server(
        base / "data",
        free_port(),
        args=["--hypervisor", "simulated"],
        env={"STRATUSLAB_XMLRPC_ONE_VERSION": VERSION},
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin(srv: Server) -> Any:
    return pyone.OneServer(f"{srv.endpoint}/one/7.4/RPC2", session="admin:adminpw")


@pytest.fixture(scope="module")
def alice(srv: Server, admin: Any) -> Any:
    """A user created over XML-RPC (she registers her own image below)."""
    uid = admin.user.allocate("alice", "alice-pw", "core", [])
    assert admin.user.info(uid).NAME == "alice"
    return pyone.OneServer(f"{srv.endpoint}/one/7.4/RPC2", session="alice:alice-pw")


@pytest.fixture(scope="module")
def image_id(alice: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Alice's own image, from an HTTP server on loopback (users may not import server files)."""
    d = tmp_path_factory.mktemp("img")
    (d / "disk.raw").write_bytes(b"\0" * (1 << 20))
    with http_directory(d) as base:
        url = f"{base}/disk.raw"
        image = alice.image.allocate(f'NAME="ttylinux"\nPATH="{url}"\nTYPE="OS"', 1)
        assert isinstance(image, int)
        deadline = time.monotonic() + 60  # a URL is downloaded by a job: LOCKED (4) until READY
        while (state := alice.image.info(image).STATE) != 1:
            assert state == 4 and time.monotonic() < deadline, f"image {image}: STATE {state}"
            time.sleep(0.1)
        yield image


def rpc(srv: Server, path: str = "/RPC2") -> Any:
    return xmlrpc.client.ServerProxy(f"{srv.endpoint}{path}")


def wait_for(one: Any, vm_id: int, done: Callable[[Any], bool], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    info = one.vm.info(vm_id)
    while not done(info):
        assert time.monotonic() < deadline, f"VM {vm_id}: STATE {info.STATE}/{info.LCM_STATE}"
        time.sleep(0.1)
        info = one.vm.info(vm_id)
    return info


def vm_count(srv: Server) -> int:
    ok, xml, _ = rpc(srv).one.vmpool.info("admin:adminpw", -2, -1, -1, -2)
    assert ok
    return int(xml.count("<VM>"))


# ---- the life cycle ------------------------------------------------------------------------


def test_each_path_answers_the_version_it_claims(srv: Server, admin: Any) -> None:
    assert rpc(srv).one.system.version("admin:adminpw") == [True, VERSION, 0]  # the setting
    assert admin.system.version() == "7.4.0"  # /one/7.4/RPC2
    assert rpc(srv, "/one/3.2/RPC2").one.system.version("admin:adminpw")[1] == "3.2.0"


def test_template_life_cycle_with_pyone_bindings(alice: Any, admin: Any, image_id: int) -> None:
    tid = alice.template.allocate(
        f'NAME="small"\nCPU="0.5"\nVCPU="1"\nMEMORY="256"\nDISK=[IMAGE_ID="{image_id}"]\n'
        'CONTEXT=[HOSTNAME="web", SSH_PUBLIC_KEY="$USER[SSH_PUBLIC_KEY]", ROLE="frontend"]'
    )
    tpl = alice.template.info(tid)
    assert (tpl.NAME, tpl.UNAME, tpl.TEMPLATE["DISK"]["IMAGE_ID"]) == (
        "small",
        "alice",
        str(image_id),
    )
    assert [t.ID for t in alice.templatepool.info(-3, -1, -1).VMTEMPLATE] == [tid]

    vm_id = alice.template.instantiate(tid, "", False, "", False)  # CONTEXT HOSTNAME names it
    info = wait_for(alice, vm_id, lambda i: (i.STATE, i.LCM_STATE) == (3, 3))  # ACTIVE/RUNNING
    assert (info.ID, info.NAME, info.UNAME, info.GNAME) == (vm_id, "web", "alice", "users")
    for field in ("UID", "GID", "LAST_POLL", "STIME", "DEPLOY_ID", "PERMISSIONS", "TEMPLATE"):
        assert getattr(info, field) not in (None, "", 0), field
    assert info.PERMISSIONS.OWNER_U == 1 and info.ETIME == 0
    assert info.UID == next(u.ID for u in admin.userpool.info().USER if u.NAME == "alice")
    disk = info.TEMPLATE["DISK"]
    assert disk["IMAGE_ID"] == str(image_id) and disk["IMAGE"] == "ttylinux"
    assert disk["SOURCE"].endswith(".raw") and info.TEMPLATE["MEMORY"] == "256"
    assert info.TEMPLATE["CONTEXT"] == {"ROLE": "frontend"}  # the cloud sets HOSTNAME, keys
    assert info.HISTORY_RECORDS.HISTORY[0].HOSTNAME == "localhost"
    assert vm_id in [vm.ID for vm in alice.vmpool.info(-3, -1, -1, -1).VM]

    alice.vm.action("poweroff", vm_id)
    wait_for(alice, vm_id, lambda i: i.STATE == 8)  # POWEROFF
    alice.vm.action("resume", vm_id)
    wait_for(alice, vm_id, lambda i: (i.STATE, i.LCM_STATE) == (3, 3))
    alice.vm.action("terminate", vm_id)
    wait_for(alice, vm_id, lambda i: i.STATE == 6)  # DONE
    assert vm_id not in [vm.ID for vm in alice.vmpool.info(-3, -1, -1, -1).VM]
    assert vm_id in [vm.ID for vm in alice.vmpool.info(-3, -1, -1, -2).VM]  # -2: DONE too
    assert alice.template.update(tid, 'MEMORY="384"', 1) == tid  # merge
    merged = alice.template.info(tid).TEMPLATE
    assert (merged["MEMORY"], merged["DISK"]["IMAGE_ID"]) == ("384", str(image_id))
    copy = alice.template.clone(tid, "small-copy")
    assert alice.template.info(copy).NAME == "small-copy"
    for template_id in (tid, copy):
        alice.template.delete(template_id)
    assert not alice.templatepool.info(-3, -1, -1).VMTEMPLATE


def test_vm_allocate_hold_release_and_3x_action_names(alice: Any, image_id: int) -> None:
    vm_id = alice.vm.allocate(f'NAME="held"\nMEMORY="128"\nDISK=[IMAGE_ID="{image_id}"]', True)
    assert alice.vm.info(vm_id).STATE == 2  # HOLD
    alice.vm.action("release", vm_id)
    wait_for(alice, vm_id, lambda i: (i.STATE, i.LCM_STATE) == (3, 3))
    alice.vm.action("finalize", vm_id)  # OpenNebula 3.x name of a hard delete
    wait_for(alice, vm_id, lambda i: i.STATE == 6)


def test_pools_parse_into_bindings(admin: Any, alice: Any, image_id: int) -> None:
    assert {u.NAME for u in admin.userpool.info().USER} >= {"admin", "alice"}
    assert {g.NAME for g in admin.grouppool.info().GROUP} >= {"oneadmin", "users"}
    assert [i.NAME for i in alice.imagepool.info(-3, -1, -1).IMAGE] == ["ttylinux"]
    assert alice.image.info(image_id).UNAME == "alice"
    host = admin.hostpool.info().HOST[0]
    assert (host.ID, host.NAME, host.VM_MAD) == (0, "localhost", "simulated")
    assert admin.host.info(0).NAME == "localhost"
    assert admin.datastorepool.info().DATASTORE[0].NAME == "default"
    assert admin.user.info(-1).NAME == "admin"


def test_vnet_address_ranges_reservations_holds_and_a_nic(
    srv: Server, admin: Any, alice: Any, image_id: int
) -> None:
    net_id = admin.vn.allocate(
        'NAME="lab"\nNETWORK_ADDRESS="10.77.0.0"\nNETWORK_MASK="255.255.255.0"\n'
        'GATEWAY="10.77.0.1"\nAR=[TYPE="IP4", IP="10.77.0.10", SIZE="20"]',
        -1,
    )
    assert admin.vn.add_ar(net_id, 'AR=[TYPE="IP4", IP="10.77.0.100", SIZE="10"]') == net_id
    vnet = admin.vn.info(net_id)
    assert (vnet.NAME, vnet.TEMPLATE["GATEWAY"]) == ("lab", "10.77.0.1")
    assert [(ar.IP, int(ar.SIZE)) for ar in vnet.AR_POOL.AR] == [
        ("10.77.0.10", 20),
        ("10.77.0.100", 10),
    ]
    assert admin.vn.hold(net_id, 'LEASES=[IP="10.77.0.10"]') == net_id
    reservation = alice.vn.reserve(net_id, 'SIZE="2"\nNAME="alice-pair"')
    assert isinstance(reservation, int)
    assert admin.vn.info(net_id).USED_LEASES == 2
    assert net_id in [n.ID for n in alice.vnpool.info(-2, -1, -1).VNET]

    vm_id = alice.vm.allocate(
        f'NAME="wired"\nMEMORY="128"\nDISK=[IMAGE_ID="{image_id}"]\nNIC=[NETWORK_ID="{net_id}"]',
        False,
    )
    info = wait_for(alice, vm_id, lambda i: (i.STATE, i.LCM_STATE) == (3, 3))
    nic = info.TEMPLATE["NIC"]
    assert (nic["NETWORK"], nic["NETWORK_ID"], nic["GATEWAY"]) == ("lab", str(net_id), "10.77.0.1")
    assert nic["IP"].startswith("10.77.0.") and nic["IP"] != "10.77.0.10"  # held
    assert nic["MAC"].startswith("02:00:")
    assert admin.vn.info(net_id).USED_LEASES == 3
    alice.vm.action("terminate-hard", vm_id)
    wait_for(alice, vm_id, lambda i: i.STATE == 6)

    assert admin.vn.release(net_id, 'LEASES=[IP="10.77.0.10"]') == net_id
    assert admin.vn.rm_ar(net_id, 1) == net_id
    assert admin.vn.addleases(net_id, 'LEASES=[IP="10.77.0.200"]') == net_id  # 3.x
    assert [ar.IP for ar in admin.vn.info(net_id).AR_POOL.AR] == ["10.77.0.10", "10.77.0.200"]
    assert admin.vn.rmleases(net_id, 'LEASES=[IP="10.77.0.200"]') == net_id
    # a user's own network (class tenant): allowed, private to her; the segment is the cloud's
    mine = alice.vn.allocate('NAME="mine"\nNETWORK_ADDRESS="192.168.78.0/24"', -1)
    assert mine in [n.ID for n in alice.vnpool.info(-2, -1, -1).VNET]
    admin.user.allocate("vnbob", "vnbob-pw", "core", [])
    bob = pyone.OneServer(f"{srv.endpoint}/one/7.4/RPC2", session="vnbob:vnbob-pw")
    assert mine not in [n.ID for n in bob.vnpool.info(-2, -1, -1).VNET]
    with pytest.raises(pyone.OneAuthorizationException):
        alice.vn.allocate('NAME="mine2"\nNETWORK_ADDRESS="192.168.79.0/24"\nVLAN_ID="7"', -1)
    alice.vn.delete(mine)


def _rights(vnet: Any) -> str:
    """A VNET's PERMISSIONS as OpenNebula's nine letters (owner, group, other)."""
    p = vnet.PERMISSIONS
    bits = (p.OWNER_U, p.OWNER_M, p.OWNER_A, p.GROUP_U, p.GROUP_M, p.GROUP_A,
            p.OTHER_U, p.OTHER_M, p.OTHER_A)  # fmt: skip
    return "".join("uma"[i % 3] if int(b) else "-" for i, b in enumerate(bits))


def test_vn_info_shows_the_networks_real_rights_and_hides_another_tenants_network(
    srv: Server, admin: Any, alice: Any
) -> None:
    public = next(n for n in admin.vnpool.info(-2, -1, -1).VNET if n.NAME == "public")
    assert _rights(alice.vn.info(public.ID)) == "um-u--u--"  # the cloud's: everyone uses it
    net = alice.vn.allocate('NAME="alice-lab"\nNETWORK_ADDRESS="192.168.91.0/24"', -1)
    mine = alice.vn.info(net)
    assert (mine.UNAME, _rights(mine)) == ("alice", "um-------")
    group = mine.GNAME
    admin.user.allocate("vncarol", "vncarol-pw", "core", [])
    carol = pyone.OneServer(f"{srv.endpoint}/one/7.4/RPC2", session="vncarol:vncarol-pw")
    with pytest.raises(pyone.OneNoExistsException):  # another tenant's network: not there
        carol.vn.info(net)
    assert net not in [n.ID for n in carol.vnpool.info(-2, -1, -1).VNET]
    # shared with her group (use only): carol sees it with those rights, and may not delete it
    shared = httpx.post(f"{srv.endpoint}/api/v1/networks/alice-lab/permissions",
                        json={"permissions": "um-u-----", "group": group}, auth=ALICE)  # fmt: skip
    assert shared.status_code == 200, shared.text
    seen = carol.vn.info(net)
    assert (seen.GNAME, _rights(seen)) == (group, "um-u-----")
    assert _rights(admin.vn.info(net)) == "um-u-----"
    with pytest.raises(pyone.OneAuthorizationException):
        carol.vn.delete(net)
    alice.vn.delete(net)


def test_volumes_as_disks_at_allocate_attach_and_detach(
    srv: Server, alice: Any, image_id: int
) -> None:
    made = httpx.post(f"{srv.endpoint}/api/v1/volumes", json={"size": 1, "tag": "data"}, auth=ALICE)
    assert made.status_code == 201, made.text
    uuid = made.json()["id"]
    vm_id = alice.vm.allocate(
        f'NAME="disks"\nMEMORY="128"\nDISK=[IMAGE_ID="{image_id}"]\n'
        f'DISK=[SOURCE="pdisk:127.0.0.1:8445:{uuid}", TARGET="vdb"]',
        False,
    )
    info = wait_for(alice, vm_id, lambda i: (i.STATE, i.LCM_STATE) == (3, 3))
    disks = info.TEMPLATE["DISK"]
    assert [d["DISK_ID"] for d in disks] == ["0", "1"] and disks[1]["SOURCE"] == uuid
    assert alice.vm.detach(vm_id, 1) == vm_id
    assert isinstance(alice.vm.info(vm_id).TEMPLATE["DISK"], dict)  # the boot disk alone
    assert alice.vm.attach(vm_id, f'DISK=[SOURCE="{uuid}"]') == vm_id
    assert alice.vm.info(vm_id).TEMPLATE["DISK"][1]["SOURCE"] == uuid
    ok, _, code = rpc(srv).one.vm.detach("alice:alice-pw", vm_id, 7)
    assert (ok, code) == (False, NO_EXISTS)
    alice.vm.action("terminate-hard", vm_id)
    wait_for(alice, vm_id, lambda i: i.STATE == 6)


def test_attachnic_and_detachnic_hot_plug_a_nic_with_its_lease(
    srv: Server, admin: Any, alice: Any, image_id: int
) -> None:
    private = next(n.ID for n in admin.vnpool.info(-2, -1, -1).VNET if n.NAME == "private")
    before = admin.vn.info(private).USED_LEASES
    vm_id = alice.vm.allocate(f'NAME="nics"\nMEMORY="128"\nDISK=[IMAGE_ID="{image_id}"]', False)
    wait_for(alice, vm_id, lambda i: (i.STATE, i.LCM_STATE) == (3, 3))
    assert alice.vm.attachnic(vm_id, 'NIC=[NETWORK="private"]') == vm_id
    nics = alice.vm.info(vm_id).TEMPLATE["NIC"]
    assert [n["NIC_ID"] for n in nics] == ["0", "1"]
    assert nics[1]["NETWORK"] == "private" and nics[1]["MAC"].startswith("02:00:")
    assert admin.vn.info(private).USED_LEASES == before + 1
    ok, _, code = rpc(srv).one.vm.detachnic("alice:alice-pw", vm_id, 0)  # the first NIC stays
    assert ok is False and code != 0
    assert alice.vm.detachnic(vm_id, 1) == vm_id
    assert isinstance(alice.vm.info(vm_id).TEMPLATE["NIC"], dict)  # the first NIC alone
    assert admin.vn.info(private).USED_LEASES == before
    ok, _, code = rpc(srv).one.vm.detachnic("alice:alice-pw", vm_id, 5)
    assert (ok, code) == (False, NO_EXISTS)
    url = f"{srv.endpoint}/api/v1/vms/{vm_id}/nics"  # the same over REST, as jobs

    def get(path: str) -> dict[str, object]:
        return dict(httpx.get(srv.endpoint + path, auth=ALICE).json())

    made = httpx.post(url, json={"network": "private"}, auth=ALICE)
    assert made.status_code == 202, made.text
    nic: Any = finished_job(get, made.json()["job"])["result"]
    assert nic["nic_id"] == "1" and admin.vn.info(private).USED_LEASES == before + 1
    gone = httpx.delete(f"{url}/{nic['mac']}", auth=ALICE)
    assert gone.status_code == 202, gone.text
    assert finished_job(get, gone.json()["job"])["state"] == "done"
    assert admin.vn.info(private).USED_LEASES == before
    assert httpx.delete(f"{url}/0", auth=ALICE).status_code == 400
    alice.vm.action("terminate-hard", vm_id)
    wait_for(alice, vm_id, lambda i: i.STATE == 6)


def test_vm_rename_update_chown_and_deploy_a_held_vm(
    srv: Server, admin: Any, alice: Any, image_id: int
) -> None:
    vm_id = alice.vm.allocate(f'NAME="first"\nMEMORY="128"\nDISK=[IMAGE_ID="{image_id}"]', True)
    assert alice.vm.rename(vm_id, "second") == vm_id
    assert alice.vm.info(vm_id).NAME == "second"
    ok, message, code = rpc(srv).one.vm.rename("alice:alice-pw", vm_id, "not a name!")
    assert (ok, code) == (False, ACTION) and "not a valid host name" in message
    assert alice.vm.update(vm_id, 'OWNER_NOTE="db"\nLABELS=[TIER="back"]', 0) == vm_id
    assert alice.vm.update(vm_id, 'COST="3"', 1) == vm_id  # merge keeps the rest
    user = alice.vm.info(vm_id).USER_TEMPLATE
    assert (user["OWNER_NOTE"], user["LABELS"], user["COST"]) == ("db", {"TIER": "back"}, "3")
    alice.vm.update(vm_id, 'ONLY="this"', 0)  # replace
    assert alice.vm.info(vm_id).USER_TEMPLATE == {"ONLY": "this"}
    ok, _, code = rpc(srv).one.vm.update("alice:alice-pw", vm_id, 'BROKEN=[A="b"', 0)
    assert (ok, code) == (False, ACTION)
    assert alice.vm.info(vm_id).USER_TEMPLATE == {"ONLY": "this"}

    alice_id = admin.user.info(-1).ID  # admin's own id: the VM goes to admin and back
    with pytest.raises(pyone.OneAuthorizationException):
        alice.vm.chown(vm_id, alice_id, -1)
    assert admin.vm.chown(vm_id, alice_id, -1) == vm_id
    assert admin.vm.info(vm_id).UNAME == "admin"
    with pytest.raises(pyone.OneNoExistsException):
        admin.vm.chown(vm_id, 424242, -1)
    back = next(u.ID for u in admin.userpool.info().USER if u.NAME == "alice")
    admin.vm.chown(vm_id, back, -1)
    assert alice.vm.info(vm_id).UNAME == "alice"

    ok, message, code = rpc(srv).one.vm.deploy("admin:adminpw", vm_id, 7)
    assert (ok, code) == (False, NO_EXISTS) and "host 7" in message
    assert alice.vm.info(vm_id).STATE == 2  # still HOLD
    assert admin.vm.deploy(vm_id, 0) == vm_id
    info = wait_for(alice, vm_id, lambda i: (i.STATE, i.LCM_STATE) == (3, 3))
    assert info.HISTORY_RECORDS.HISTORY[0].HOSTNAME == "localhost"
    ok, message, code = rpc(srv).one.vm.migrate("admin:adminpw", vm_id, 0, False)
    assert (ok, code) == (False, ACTION) and "already runs on host localhost" in message
    ok, _, code = rpc(srv).one.vm.migrate("admin:adminpw", vm_id, 3, False)
    assert (ok, code) == (False, NO_EXISTS)
    events = httpx.get(f"{srv.endpoint}/api/v1/vms/{vm_id}/events", auth=ALICE).json()
    logged = " | ".join(e["message"] for e in events)
    assert "rename: first -> second" in logged and "chown: admin" in logged
    assert "deploy to host localhost" in logged and "user template replace" in logged
    alice.vm.action("terminate-hard", vm_id)
    wait_for(alice, vm_id, lambda i: i.STATE == 6)


def test_user_chgrp_changes_the_primary_group(admin: Any, alice: Any) -> None:
    gid = admin.group.allocate("physics")
    uid = admin.user.allocate("bob", "bob-pw", "core", [])
    assert admin.user.chgrp(uid, gid) == uid
    assert (admin.user.info(uid).GID, admin.user.info(uid).GNAME) == (gid, "physics")
    with pytest.raises(pyone.OneNoExistsException):
        admin.user.chgrp(uid, 4242)
    with pytest.raises(pyone.OneAuthorizationException):
        alice.user.chgrp(uid, gid)
    assert admin.user.info(uid).GNAME == "physics"
    admin.user.delete(uid)


def test_acl_rules_describe_the_fixed_policy(srv: Server, admin: Any, alice: Any) -> None:
    rules = admin.acl.info().ACL
    users_gid = next(g.ID for g in admin.grouppool.info().GROUP if g.NAME == "users")
    assert rules[0].STRING == f"@{users_gid} VM+IMAGE+TEMPLATE/* CREATE *"
    assert int(rules[0].USER, 16) == 0x200000000 | users_gid
    admin_id = admin.user.info(-1).ID
    assert any(r.STRING.startswith(f"#{admin_id} VM+HOST") for r in rules)
    ok, message, code = rpc(srv).one.acl.addrule(
        "admin:adminpw", "0x100000001", "0x1000000000", "0x1"
    )
    assert (ok, code) == (False, ACTION) and "policy is built in" in message
    ok, _, code = rpc(srv).one.acl.delrule("admin:adminpw", 0)
    assert (ok, code) == (False, ACTION)
    assert len(admin.acl.info().ACL) == len(rules)
    with pytest.raises(pyone.OneAuthorizationException):
        alice.acl.info()


def test_image_enable_persistent_and_chtype(srv: Server, alice: Any, image_id: int) -> None:
    assert alice.image.enable(image_id, False) == image_id
    assert alice.image.info(image_id).STATE == 3  # DISABLED
    before = vm_count(srv)
    text = f'NAME="off"\nMEMORY="128"\nDISK=[IMAGE_ID="{image_id}"]'
    ok, message, code = rpc(srv).one.vm.allocate("alice:alice-pw", text, False)
    assert (ok, code) == (False, ACTION) and "disabled" in message
    assert vm_count(srv) == before
    assert alice.image.enable(image_id, True) == image_id
    assert alice.image.info(image_id).STATE == 1  # READY
    assert alice.image.persistent(image_id, False) == image_id  # what it already is
    assert alice.image.chtype(image_id, "OS") == image_id
    ok, message, code = rpc(srv).one.image.persistent("alice:alice-pw", image_id, True)
    assert (ok, code) == (False, ACTION) and "volume" in message
    ok, message, code = rpc(srv).one.image.chtype("alice:alice-pw", image_id, "DATABLOCK")
    assert (ok, code) == (False, ACTION) and "OS images" in message
    assert alice.image.info(image_id).PERSISTENT == 0


def test_host_enable_disable_steers_placement(
    srv: Server, admin: Any, alice: Any, image_id: int
) -> None:
    before = vm_count(srv)
    with pytest.raises(pyone.OneAuthorizationException):
        alice.host.enable(0, False)
    assert admin.host.enable(0, False) == 0
    try:
        assert admin.host.info(0).STATE == 4  # DISABLED
        text = f'NAME="nohost"\nMEMORY="128"\nDISK=[IMAGE_ID="{image_id}"]'
        ok, message, code = rpc(srv).one.vm.allocate("alice:alice-pw", text, False)
        assert (ok, code) == (False, ACTION) and "every host is disabled" in message
        assert vm_count(srv) == before
    finally:
        admin.host.enable(0, True)
    assert admin.host.info(0).STATE == 2  # MONITORED
    ok, message, code = rpc(srv).one.host.allocate("admin:adminpw", "node2", "kvm", "kvm", -1)
    assert (ok, code) == (False, ACTION) and "configuration" in message
    ok, message, code = rpc(srv).one.host.delete("admin:adminpw", 0)
    assert (ok, code) == (False, ACTION) and "configuration" in message
    assert [h.NAME for h in admin.hostpool.info().HOST] == ["localhost"]


# ---- errors: the protocol's own shape, and nothing changes -----------------------------------


def test_wrong_password_at_rpc2_is_the_authentication_error(srv: Server) -> None:
    ok, message, code = rpc(srv).one.vmpool.info("admin:wrong", -2, -1, -1, -1)
    assert (ok, code) == (False, AUTH) and "password" in message
    with pytest.raises(pyone.OneAuthenticationException):
        pyone.OneServer(f"{srv.endpoint}/one/7.4/RPC2", session="admin:wrong").vmpool.info(-2, -1, -1, -1)


def test_unclosed_bracket_is_refused_and_creates_nothing(srv: Server, image_id: int) -> None:
    before = vm_count(srv)
    text = f'NAME="broken"\nDISK=[IMAGE_ID="{image_id}"\nMEMORY="128"'
    ok, message, code = rpc(srv).one.vm.allocate("alice:alice-pw", text, False)
    assert (ok, code) == (False, ACTION) and "unclosed" in message and "DISK" in message
    ok, _, _ = rpc(srv).one.template.allocate("alice:alice-pw", 'NAME="x"\nDISK=[IMAGE_ID="1"')
    assert ok is False
    assert vm_count(srv) == before


def test_nic_on_a_missing_network_is_no_exists_and_creates_nothing(
    srv: Server, image_id: int
) -> None:
    before = vm_count(srv)
    text = f'NAME="nic"\nDISK=[IMAGE_ID="{image_id}"]\nNIC=[NETWORK_ID="4242"]'
    ok, message, code = rpc(srv).one.vm.allocate("alice:alice-pw", text, False)
    assert (ok, code) == (False, NO_EXISTS) and "4242" in message
    assert vm_count(srv) == before


def test_wrong_argument_types_are_api_errors(srv: Server, image_id: int) -> None:
    before = vm_count(srv)
    ok, message, code = rpc(srv).one.vm.allocate("alice:alice-pw", 42, False)
    assert (ok, code) == (False, API) and "argument 2" in message
    ok, _, code = rpc(srv).one.vm.info("alice:alice-pw", "seven")
    assert (ok, code) == (False, API)
    ok, _, code = rpc(srv).one.vm.action("alice:alice-pw", "explode", 0)
    assert (ok, code) == (False, ACTION)
    assert vm_count(srv) == before


def test_missing_objects_and_foreign_vms_are_no_exists(srv: Server, admin: Any) -> None:
    ok, _, code = rpc(srv).one.vm.info("alice:alice-pw", 999_999)
    assert (ok, code) == (False, NO_EXISTS)
    ok, _, code = rpc(srv).one.template.info("alice:alice-pw", 999_999)
    assert (ok, code) == (False, NO_EXISTS)
    ok, _, code = rpc(srv).one.user.allocate("alice:alice-pw", "mallory", "pw-pw-pw", "core", [])
    assert (ok, code) == (False, 0x200)  # only admins create users


def test_not_supported_yet_is_an_action_error(srv: Server, image_id: int) -> None:
    disk = f'DISK=[IMAGE_ID="{image_id}"]'
    ok, message, code = rpc(srv).one.vm.allocate(
        "alice:alice-pw", f'NAME="two"\nMEMORY="128"\n{disk}\n{disk}', False
    )
    assert (ok, code) == (False, ACTION) and "not supported" in message


# ---- the classic endpoints -------------------------------------------------------------------


def test_classic_client_with_url_credentials_on_pswd_xmlrpc(srv: Server) -> None:
    host = srv.endpoint.removeprefix("http://")
    proxy = xmlrpc.client.ServerProxy(f"http://alice:alice-pw@{host}/pswd/xmlrpc")
    ok, xml, _ = proxy.one.vmpool.info("alice:alice-pw", -3, -1, -1, -2)
    assert ok and xml.startswith("<VM_POOL")
    assert rpc(srv, "/xmlrpc").one.system.version("admin:adminpw") == [True, VERSION, 0]


def test_unknown_method_is_an_xmlrpc_fault(srv: Server) -> None:
    with pytest.raises(xmlrpc.client.Fault):
        rpc(srv).one.vm.explode("admin:adminpw")


def test_server_log_has_no_tracebacks(srv: Server, tmp_path: Path) -> None:
    assert "Traceback" not in srv.log()


def test_vn_allocate_takes_7x_ranges_and_3x_fixed_or_ranged_without_network_address(
    admin: Any,
) -> None:
    """The subnet is derived from the addresses when NETWORK_ADDRESS is absent: a 7.x AR, a 3.2
    FIXED network (LEASES) and a 3.2 RANGED one (IP_START/IP_END)."""
    seven = admin.vn.allocate('NAME="ar-only"\nAR=[TYPE="IP4", IP="10.81.0.10", SIZE="5"]', -1)
    fixed = admin.vn.allocate('NAME="fixed32"\nTYPE="FIXED"\nBRIDGE="br1"\n'
                              'LEASES=[IP="10.82.0.5"]\nLEASES=[IP="10.82.0.9"]', -1)  # fmt: skip
    ranged = admin.vn.allocate('NAME="ranged32"\nTYPE="RANGED"\nIP_START="10.83.0.20"\n'
                               'IP_END="10.83.0.29"', -1)  # fmt: skip
    assert [(ar.IP, int(ar.SIZE)) for ar in admin.vn.info(seven).AR_POOL.AR] == [("10.81.0.10", 5)]
    assert [ar.IP for ar in admin.vn.info(fixed).AR_POOL.AR] == ["10.82.0.5", "10.82.0.9"]
    assert admin.vn.info(fixed).TEMPLATE["NETWORK_ADDRESS"] == "10.82.0.0"
    assert [(ar.IP, int(ar.SIZE)) for ar in admin.vn.info(ranged).AR_POOL.AR] == [("10.83.0.20", 10)]
    for net in (seven, fixed, ranged):
        admin.vn.delete(net)


def test_image_names_are_unique_per_owner_and_datastores_must_exist(
    srv: Server, alice: Any, image_id: int
) -> None:
    ok, message, code = rpc(srv).one.image.allocate(
        "alice:alice-pw", 'NAME="ttylinux"\nPATH="http://127.0.0.1:1/x.raw"\nTYPE="OS"', 1)
    assert (ok, code) == (False, ACTION) and "already exists" in message
    ok, message, code = rpc(srv).one.image.allocate(
        "alice:alice-pw", 'NAME="other"\nPATH="http://127.0.0.1:1/x.raw"\nTYPE="OS"', 107)
    assert (ok, code) == (False, NO_EXISTS) and "datastore 107" in message


def test_denial_on_an_object_the_caller_sees_is_authorization_not_no_exists(
    srv: Server, alice: Any, tmp_path: Path
) -> None:
    disk = tmp_path / "public.raw"
    disk.write_bytes(b"\0" * 65536)
    public = int(srv.cli("image", "register", "shared", str(disk), "--public").stdout.strip())
    ok, _, _ = rpc(srv).one.image.info("alice:alice-pw", public)
    assert ok  # she sees it
    for call in (lambda: rpc(srv).one.image.delete("alice:alice-pw", public),
                 lambda: rpc(srv).one.image.enable("alice:alice-pw", public, False)):
        ok, message, code = call()
        assert (ok, code) == (False, 0x200), message
    ok, _, code = rpc(srv).one.image.delete("alice:alice-pw", 987_654)
    assert (ok, code) == (False, NO_EXISTS)  # what she cannot see does not exist for her


def test_prev_state_is_the_state_before_the_current_one(alice: Any, image_id: int) -> None:
    vm_id = alice.vm.allocate(f'NAME="prev"\nMEMORY="128"\nDISK=[IMAGE_ID="{image_id}"]', False)
    wait_for(alice, vm_id, lambda i: (i.STATE, i.LCM_STATE) == (3, 3))
    alice.vm.action("poweroff", vm_id)
    info = wait_for(alice, vm_id, lambda i: i.STATE == 8)
    assert (info.PREV_STATE, info.PREV_LCM_STATE) != (info.STATE, info.LCM_STATE)
    assert info.PREV_STATE == 3  # ACTIVE (shutting down to power off)
    alice.vm.action("terminate-hard", vm_id)
    wait_for(alice, vm_id, lambda i: i.STATE == 6)


def test_hosts_report_their_capacity_and_host_status_disables_them(
    srv: Server, admin: Any
) -> None:
    import os

    host = admin.host.info(0)
    assert host.HOST_SHARE.TOTAL_CPU == host.HOST_SHARE.MAX_CPU == 100 * (os.cpu_count() or 0)
    assert host.HOST_SHARE.TOTAL_MEM == host.HOST_SHARE.MAX_MEM > 0
    ok, xml, _ = rpc(srv, "/one/3.2/RPC2").one.host.info("admin:adminpw", 0)
    assert ok and f"<MAX_CPU>{100 * (os.cpu_count() or 0)}</MAX_CPU>" in xml
    assert admin.host.status(0, 1) == 0 and admin.host.info(0).STATE == 4  # DISABLED
    assert admin.host.status(0, 0) == 0 and admin.host.info(0).STATE == 2  # MONITORED


def test_user_enable_addgroup_and_delgroup(srv: Server, admin: Any) -> None:
    uid = admin.user.allocate("dora", "dora-pw-1", "core", [])
    gid = admin.group.allocate("extra")
    assert admin.user.addgroup(uid, gid) == uid
    assert gid in admin.user.info(uid).GROUPS.ID
    assert admin.user.delgroup(uid, gid) == uid
    assert gid not in admin.user.info(uid).GROUPS.ID
    primary = admin.user.info(uid).GID
    ok, message, code = rpc(srv).one.user.delgroup("admin:adminpw", uid, primary)
    assert (ok, code) == (False, ACTION) and "primary group" in message
    assert admin.user.enable(uid, False) == uid
    assert admin.user.info(uid).ENABLED == 0
    ok, _, code = rpc(srv).one.user.info("dora:dora-pw-1", -1)
    assert (ok, code) == (False, AUTH)  # a disabled user cannot sign in
    assert admin.user.enable(uid, True) == uid
    assert rpc(srv).one.user.info("dora:dora-pw-1", -1)[0]
