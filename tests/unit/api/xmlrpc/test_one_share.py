"""OpenNebula's sharing and annotation calls over a simulated cloud (the real services behind
the XML-RPC adapter): chmod, chown, rename, update, user.chauth, host.update, and undeploy ->
UNDEPLOYED (9) -> resume.  Every object these calls change is then read back through both
profiles (/one/3.2/RPC2 and /one/7.4/RPC2) and validated against that line's XSD; the hostile
cases (another user's object, bad rights, an unknown auth driver) answer OpenNebula's codes."""

from __future__ import annotations

import xmlrpc.client
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.helpers.cloud import drain
from tests.helpers.onexsd import namespaced, schema
from tests.unit.api.xmlrpc.fakes import ClientTransport

from stratuslab.api.xmlrpc import create_router, endpoint_versions
from stratuslab.api.xmlrpc.services import ServicesBackend
from stratuslab.bootstrap import Cloud
from stratuslab.core.entities import Principal
from stratuslab.core.quotas import Subject, SubjectKind

ADMIN, ALICE, BOB = "admin:adminpw", "alice:alicepw", "bob:bobpw"
AUTHENTICATION, AUTHORIZATION, NO_EXISTS, ACTION = 0x100, 0x200, 0x400, 0x800
KEEP3 = (-1, -1, -1)
#: the schema file of an object per line (3.2 calls a VM template "template")
XSD = {("3.2", "template"): "template", ("7.4", "template"): "vmtemplate"}


@pytest.fixture
def lines(cloud: Cloud, admin: Principal) -> dict[str, Any]:
    for name in ("alice", "bob"):
        cloud.identity.create_user(admin, name, f"{name}pw")
    app = FastAPI()
    app.include_router(create_router(ServicesBackend(cloud.services),
                                     paths=endpoint_versions("3.2.0")))  # fmt: skip
    client = TestClient(app)
    return {
        line: xmlrpc.client.ServerProxy(f"http://testserver/one/{line}/RPC2",
                                        transport=ClientTransport(client)).one  # fmt: skip
        for line in ("3.2", "7.4")
    }


@pytest.fixture
def one(lines: dict[str, Any]) -> Any:
    return lines["7.4"]


def my_ids(one: Any, session: str) -> tuple[int, int]:
    """The caller's user id and primary group id, as one.user.info answers them."""
    xml = ok(one.user.info(session, -1))
    return int(xml.split("<ID>")[1].split("<")[0]), int(xml.split("<GID>")[1].split("<")[0])


def ok(answer: list[Any]) -> Any:
    assert answer[0], answer
    return answer[1]


def code(answer: list[Any]) -> int:
    assert not answer[0], answer
    return int(answer[2])


def valid_in_both_lines(lines: dict[str, Any], kind: str, obj_id: int) -> str:
    """The object's info through each line, validated against that line's schema."""
    xml = ""
    for line, one in lines.items():
        xml = ok(getattr(one, kind).info(ADMIN, obj_id))
        name = XSD.get((line, kind), {"vn": "vnet"}.get(kind, kind))
        validator = schema(line, name)
        assert validator.validate(namespaced(xml)), (line, kind, list(validator.error_log))
    return xml


def alice_vm(one: Any, image: int) -> int:
    return int(ok(one.vm.allocate(ALICE, f'NAME="w"\nMEMORY="128"\nDISK=[IMAGE_ID="{image}"]',
                                  False)))  # fmt: skip


# ---- chmod ---------------------------------------------------------------------------------


def test_vm_chmod_shares_a_vm_with_its_group_and_no_further(
    lines: dict[str, Any], one: Any, image: int
) -> None:
    vm_id, private = alice_vm(one, image), alice_vm(one, image)
    assert code(one.vm.info(BOB, vm_id)) == NO_EXISTS  # private: bob cannot even see it
    assert code(one.vm.chmod(BOB, vm_id, *KEEP3, 1, 0, 0, *KEEP3)) == NO_EXISTS
    assert ok(one.vm.chmod(ALICE, vm_id, *KEEP3, 1, 0, 0, *KEEP3)) == vm_id
    xml = valid_in_both_lines(lines, "vm", vm_id)
    assert "<GROUP_U>1</GROUP_U><GROUP_M>0</GROUP_M>" in xml and "<OTHER_U>0</OTHER_U>" in xml
    assert ok(one.vm.info(BOB, vm_id))  # same group (users): bob may look now...
    assert code(one.vm.action(BOB, "poweroff", vm_id)) == AUTHORIZATION  # ...but not act
    assert code(one.vm.chmod(BOB, vm_id, *KEEP3, 1, 1, 0, *KEEP3)) == AUTHORIZATION
    assert code(one.vm.info(BOB, private)) == NO_EXISTS


def test_chmod_refuses_bad_rights_and_the_admin_right_from_users(one: Any, image: int) -> None:
    vm_id = alice_vm(one, image)
    bad = one.vm.chmod(ALICE, vm_id, *KEEP3, 2, 0, 0, *KEEP3)
    assert code(bad) == ACTION and "-1, 0 or 1" in bad[1]
    denied = one.vm.chmod(ALICE, vm_id, *KEEP3, *KEEP3, 1, 1, 1)
    assert code(denied) == AUTHORIZATION and "admin right" in denied[1]
    assert ok(one.vm.chmod(ADMIN, vm_id, *KEEP3, *KEEP3, 1, 1, 1)) == vm_id
    assert "<OTHER_A>1</OTHER_A>" in ok(one.vm.info(ALICE, vm_id))


def test_image_chmod_is_private_or_public_and_chown_is_the_admins(
    lines: dict[str, Any], one: Any, cloud: Cloud, tmp_path: Path, admin: Principal
) -> None:
    disk = tmp_path / "mine.img"
    disk.write_bytes(b"\0" * 4096)
    image_id = cloud.images.register(admin, "mine", str(disk)).id
    assert code(one.image.info(BOB, image_id)) == NO_EXISTS
    assert ok(one.image.chmod(ADMIN, image_id, *KEEP3, 1, 0, 0, 1, 0, 0)) == image_id
    assert ok(one.image.info(BOB, image_id))  # public now
    half = one.image.chmod(ADMIN, image_id, *KEEP3, 1, 0, 0, 0, 0, 0)
    assert code(half) == ACTION and "private (um-------) or public (um-u--u--)" in half[1]
    assert code(one.image.chmod(BOB, image_id, *KEEP3, 0, 0, 0, 0, 0, 0)) == AUTHORIZATION
    assert code(one.image.chown(BOB, image_id, my_ids(one, BOB)[0], -1)) == AUTHORIZATION
    bob, _ = my_ids(one, BOB)
    assert ok(one.image.chown(ADMIN, image_id, bob, -1)) == image_id
    assert ok(one.image.rename(BOB, image_id, "bobs")) == image_id
    assert ok(one.image.update(BOB, image_id, 'DESCRIPTION="a base"', 0)) == image_id
    assert ok(one.image.update(BOB, image_id, 'LABELS="x"', 1)) == image_id
    xml = valid_in_both_lines(lines, "image", image_id)
    assert "<UNAME>bob</UNAME>" in xml and "<NAME>bobs</NAME>" in xml
    assert "<DESCRIPTION><![CDATA[a base]]></DESCRIPTION>" in xml and "<LABELS>" in xml
    assert code(one.image.chown(ADMIN, image_id, 4242, -1)) == NO_EXISTS


# ---- templates, networks, users, hosts -----------------------------------------------------


def test_template_chmod_chown_and_rename(lines: dict[str, Any], one: Any) -> None:
    tid = int(ok(one.template.allocate(ALICE, 'NAME="small"\nMEMORY="128"')))
    assert code(one.template.info(BOB, tid)) == NO_EXISTS
    assert ok(one.template.chmod(ALICE, tid, *KEEP3, 1, 0, 0, *KEEP3)) == tid
    assert ok(one.template.info(BOB, tid)) and ok(one.templatepool.info(BOB, -2, -1, -1)).count(
        "<VMTEMPLATE>") == 1
    assert code(one.template.rename(BOB, tid, "mine")) == AUTHORIZATION
    bob, users = my_ids(one, BOB)
    admin, admins = my_ids(one, ADMIN)
    assert code(one.template.chown(BOB, tid, -1, users)) == AUTHORIZATION  # not bob's
    assert code(one.template.chown(ALICE, tid, -1, admins)) == AUTHORIZATION  # not her group
    assert ok(one.template.rename(ALICE, tid, "tiny")) == tid
    assert code(one.template.chown(ALICE, tid, bob, -1)) == AUTHORIZATION  # owners: admins only
    assert ok(one.template.chown(ADMIN, tid, bob, -1)) == tid
    assert ok(one.template.info(BOB, tid))
    xml = valid_in_both_lines(lines, "template", tid)
    assert "<NAME>tiny</NAME>" in xml and "<GROUP_U>1</GROUP_U>" in xml


def test_vn_keeps_its_bridge_and_template_and_shares(lines: dict[str, Any], one: Any) -> None:
    text = ('NAME="lab"\nBRIDGE="br-lab"\nDESCRIPTION="lab net"\n'
            'AR=[TYPE="IP4", IP="192.168.50.10", SIZE="20"]')  # fmt: skip
    net_id = int(ok(one.vn.allocate(ALICE, text, -1)))
    xml = valid_in_both_lines(lines, "vn", net_id)
    assert "<BRIDGE>br-lab</BRIDGE>" in xml and "<DESCRIPTION><![CDATA[lab net]]>" in xml
    assert ok(one.vn.update(ALICE, net_id, 'DESCRIPTION="renamed"', 1)) == net_id
    assert code(one.vn.update(BOB, net_id, 'DESCRIPTION="mine"', 1)) == NO_EXISTS
    xml = valid_in_both_lines(lines, "vn", net_id)
    assert "<BRIDGE>br-lab</BRIDGE>" in xml and "renamed" in xml
    assert ok(one.vn.chmod(ALICE, net_id, *KEEP3, 1, 0, 0, *KEEP3)) == net_id
    assert "<GROUP_U>1</GROUP_U>" in ok(one.vn.info(BOB, net_id))
    assert code(one.vn.chmod(BOB, net_id, *KEEP3, 1, 1, 0, *KEEP3)) == AUTHORIZATION
    bob, _ = my_ids(one, BOB)
    assert code(one.vn.chown(ALICE, net_id, bob, -1)) == AUTHORIZATION
    assert ok(one.vn.chown(ADMIN, net_id, bob, -1)) == net_id
    assert "<UNAME>bob</UNAME>" in valid_in_both_lines(lines, "vn", net_id)


def test_user_update_and_chauth(lines: dict[str, Any], one: Any) -> None:
    alice, _ = my_ids(one, ALICE)
    assert ok(one.user.update(ALICE, -1, 'SSH_PUBLIC_KEY="ssh-ed25519 AAAA alice"', 0)) == -1
    xml = valid_in_both_lines(lines, "user", alice)
    assert "<SSH_PUBLIC_KEY><![CDATA[ssh-ed25519 AAAA alice]]>" in xml
    assert code(one.user.update(BOB, alice, 'X="y"', 0)) == NO_EXISTS
    assert code(one.user.chauth(ALICE, alice, "core", "newpw")) == AUTHORIZATION
    unknown = one.user.chauth(ADMIN, alice, "ldap", "x")
    assert code(unknown) == ACTION and "'ldap'" in unknown[1] and "core, x509" in unknown[1]
    assert ok(one.user.chauth(ADMIN, alice, "x509", "/C=CH/O=Lab/CN=Alice")) == alice
    assert "<AUTH_DRIVER>x509</AUTH_DRIVER>" in valid_in_both_lines(lines, "user", alice)
    assert code(one.user.info(ALICE, -1)) == AUTHENTICATION  # no password login any more
    bob, _ = my_ids(one, BOB)
    taken = one.user.chauth(ADMIN, bob, "x509", "/C=CH/O=Lab/CN=Alice")
    assert code(taken) == ACTION and "already mapped to user alice" in taken[1]
    assert ok(one.user.chauth(ADMIN, alice, "core", "alicepw2")) == alice
    assert "<AUTH_DRIVER>core</AUTH_DRIVER>" in ok(one.user.info("alice:alicepw2", -1))


def test_host_update_is_the_admins_and_survives_heartbeats(
    lines: dict[str, Any], one: Any, cloud: Cloud
) -> None:
    assert code(one.host.update(ALICE, 0, 'RACK="r1"', 0)) == AUTHORIZATION
    assert ok(one.host.update(ADMIN, 0, 'RACK="r1"', 0)) == 0
    assert ok(one.host.update(ADMIN, 0, 'ROW="7"', 1)) == 0
    cloud.services.hosts.heartbeat()
    xml = valid_in_both_lines(lines, "host", 0)
    assert "<RACK><![CDATA[r1]]></RACK>" in xml and "<ROW><![CDATA[7]]></ROW>" in xml
    assert code(one.host.update(ADMIN, 42, 'RACK="r1"', 0)) == NO_EXISTS


# ---- undeploy ------------------------------------------------------------------------------


def state(one: Any, vm_id: int) -> tuple[str, str]:
    xml = ok(one.vm.info(ALICE, vm_id))
    return xml.split("<STATE>")[1].split("<")[0], xml.split("<LCM_STATE>")[1].split("<")[0]


def test_undeploy_ends_in_undeployed_and_resume_boots_again(
    lines: dict[str, Any], one: Any, cloud: Cloud, image: int
) -> None:
    vm_id = alice_vm(one, image)
    drain(cloud)
    assert state(one, vm_id) == ("3", "3")  # ACTIVE / RUNNING
    assert ok(one.vm.action(ALICE, "undeploy", vm_id)) == vm_id
    assert state(one, vm_id) == ("3", "29")  # ACTIVE / SHUTDOWN_UNDEPLOY while it powers off
    drain(cloud)
    assert state(one, vm_id) == ("9", "0")  # UNDEPLOYED
    xml = valid_in_both_lines(lines, "vm", vm_id)
    assert "<PREV_STATE>3</PREV_STATE>" in xml
    assert code(one.vm.action(ALICE, "suspend", vm_id)) == ACTION
    assert ok(one.vm.action(ALICE, "resume", vm_id)) == vm_id
    drain(cloud)
    assert state(one, vm_id) == ("3", "3")
    ok(one.vm.action(ALICE, "poweroff", vm_id))
    drain(cloud)
    assert ok(one.vm.action(ALICE, "undeploy-hard", vm_id)) == vm_id  # from poweroff: at once
    assert state(one, vm_id) == ("9", "0")


# ---- reservations ----------------------------------------------------------------------------


def test_vn_reserve_makes_a_network_of_the_callers_that_nics_take_addresses_from(
    lines: dict[str, Any], one: Any, cloud: Cloud, image: int
) -> None:
    net_id = int(ok(one.vn.allocate(ALICE, 'NAME="pool"\nAR=[TYPE="IP4", IP="192.168.60.10", '
                                           'SIZE="10"]', -1)))  # fmt: skip
    rid = int(ok(one.vn.reserve(ALICE, net_id, 'SIZE="2"\nNAME="kept"')))
    assert rid >= 1_000_000 and rid != net_id
    xml = valid_in_both_lines(lines, "vn", rid)
    assert f"<PARENT_NETWORK_ID>{net_id}</PARENT_NETWORK_ID>" in xml and xml.count("<AR>") == 2
    assert "<NAME>kept</NAME>" in xml and "<UNAME>alice</UNAME>" in xml
    reserved = {ip.split("]")[0] for ip in xml.split("<IP><![CDATA[")[1:]}
    assert len(reserved) == 2 and reserved <= {f"192.168.60.{n}" for n in range(10, 20)}
    assert f"<ID>{rid}</ID>" in ok(one.vnpool.info(ALICE, -2, -1, -1))
    assert code(one.vn.info(BOB, rid)) == NO_EXISTS
    assert code(one.vn.delete(BOB, rid)) == NO_EXISTS
    assert code(one.vn.chmod(ALICE, rid, *KEEP3, 1, 0, 0, *KEEP3)) == ACTION
    vm_id = int(ok(one.vm.allocate(ALICE, f'NAME="r"\nMEMORY="128"\nDISK=[IMAGE_ID="{image}"]\n'
                                          f'NIC=[NETWORK_ID="{rid}"]', False)))  # fmt: skip
    drain(cloud)
    vm = ok(one.vm.info(ALICE, vm_id))
    assert vm.split("<IP><![CDATA[")[1].split("]")[0] in reserved
    assert "<USED_LEASES>1</USED_LEASES>" in ok(one.vn.info(ALICE, rid))
    assert code(one.vn.delete(ALICE, rid)) == ACTION  # in use by the VM
    ok(one.vm.action(ALICE, "terminate-hard", vm_id))
    drain(cloud)
    assert ok(one.vn.delete(ALICE, rid)) == rid
    assert code(one.vn.info(ALICE, rid)) == NO_EXISTS


# ---- quotas --------------------------------------------------------------------------------


def test_user_and_group_vm_quotas_are_the_admins_and_enforced(
    one: Any, cloud: Cloud, admin: Principal, image: int
) -> None:
    alice, users = my_ids(one, ALICE)
    assert code(one.user.quota(ALICE, alice, 'VM=[VMS="5"]')) == AUTHORIZATION
    assert ok(one.user.quota(ADMIN, alice, 'VM=[VMS="1", MEMORY="-2", CPU="-1", '
                                           'SYSTEM_DISK_SIZE="2048"]')) == alice  # fmt: skip
    limits = cloud.services.compute_quotas.show(admin, Subject(SubjectKind.USER, "alice"))[0]
    assert (limits.limits.vms, limits.limits.memory_mib, limits.limits.disk_gb) == (1, None, 2)
    alice_vm(one, image)
    refused = one.vm.allocate(ALICE, f'NAME="x"\nMEMORY="128"\nDISK=[IMAGE_ID="{image}"]', False)
    assert code(refused) == ACTION and "quota" in refused[1]
    for bad in ('DATASTORE=[ID="1", SIZE="10"]', 'VM=[VMS="x"]', 'VM=[VMS="-5"]',
                'VM=[RUNNING_VMS="1"]'):
        assert code(one.user.quota(ADMIN, alice, bad)) == ACTION, bad
    assert ok(one.group.quota(ADMIN, users, 'VM=[VMS="-2"]')) == users
    assert code(one.group.quota(ADMIN, 4242, 'VM=[VMS="1"]')) == NO_EXISTS


# ---- pools show what was shared --------------------------------------------------------------


def pool_ids(one: Any, session: str, flag: int) -> set[int]:
    xml = ok(one.vmpool.info(session, flag, -1, -1, -1))
    return {int(part.split("<")[0]) for part in xml.split("<VM><ID>")[1:]}


def test_a_vm_shared_by_chmod_is_in_the_group_members_vmpool_with_the_filter_flags(
    lines: dict[str, Any], one: Any, image: int
) -> None:
    shared, private = alice_vm(one, image), alice_vm(one, image)
    alice = my_ids(one, ALICE)[0]
    assert shared not in pool_ids(one, BOB, -2)
    ok(one.vm.chmod(ALICE, shared, *KEEP3, 1, 0, 0, *KEEP3))
    for flag in (-2, -1, -4, alice):  # all, mine+group, group, that user's: as vm.info sees it
        assert shared in pool_ids(one, BOB, flag) and private not in pool_ids(one, BOB, flag)
    assert shared not in pool_ids(one, BOB, -3)  # -3: only the caller's own
    assert {shared, private} <= pool_ids(one, ALICE, -3)
    for line, rpc in lines.items():  # the pool as bob sees it is valid in both lines
        xml = ok(rpc.vmpool.info(BOB, -2, -1, -1, -1))
        validator = schema(line, "vm_pool")
        assert validator.validate(namespaced(xml)), (line, list(validator.error_log))
    ok(one.vm.chmod(ALICE, shared, *KEEP3, 0, 0, 0, *KEEP3))
    assert shared not in pool_ids(one, BOB, -2) and shared not in pool_ids(one, BOB, -1)


# ---- login tokens ----------------------------------------------------------------------------


def test_user_login_gives_an_api_token_the_session_carries_until_revoked(one: Any) -> None:
    token = ok(one.user.login(ALICE, "alice", "", 600, -1))
    assert "<NAME>alice</NAME>" in ok(one.user.info(f"alice:{token}", -1))  # user:token works
    assert code(one.user.info(f"bob:{token}", -1)) == AUTHENTICATION  # alice's token only
    assert code(one.user.login(ALICE, "bob", "", 600, -1)) == AUTHORIZATION
    assert code(one.user.login(BOB, "alice", "", 600, -1)) == AUTHORIZATION
    for token_given, seconds, egid in (("", 10**9, -1), ("chosen-by-me", 600, -1), ("", 0, -1),
                                       ("", 600, 1)):  # fmt: skip
        assert code(one.user.login(ALICE, "alice", token_given, seconds, egid)) == ACTION
    assert code(one.user.login(ALICE, "alice", "", "600", -1)) == 0x1000  # a string validity
    assert ok(one.user.login(ALICE, "alice", token, 0, -1)) == token  # 0: the token is removed
    assert code(one.user.info(f"alice:{token}", -1)) == AUTHENTICATION
    assert code(one.user.login(BOB, "bob", token, 0, -1)) == NO_EXISTS  # not bob's to remove
    longest = ok(one.user.login(ALICE, "alice", "", -1, -1))  # < 0: the longest lifetime allowed
    assert ok(one.user.info(f"alice:{longest}", -1))


# ---- clone ---------------------------------------------------------------------------------


def test_image_clone_is_a_private_copy_of_an_image_the_caller_may_use(
    lines: dict[str, Any], one: Any, cloud: Cloud, admin: Principal, image: int, tmp_path: Path
) -> None:
    copy = int(ok(one.image.clone(ALICE, image, "mybase", -1)))  # the public base image
    xml = valid_in_both_lines(lines, "image", copy)
    assert "<UNAME>alice</UNAME>" in xml and "<NAME>mybase</NAME>" in xml
    source = cloud.images.get(admin, image)
    cloned = cloud.images.get(admin, copy)
    assert (cloned.sha1, cloned.size_bytes, cloned.public) == (source.sha1, source.size_bytes,
                                                               False)  # fmt: skip
    assert code(one.image.info(BOB, copy)) == NO_EXISTS  # alice's, private
    assert code(one.image.clone(BOB, copy, "stolen", -1)) == NO_EXISTS  # bob cannot use it
    assert code(one.image.clone(ALICE, image, "mybase", -1)) == ACTION  # names unique per owner
    assert code(one.image.clone(ALICE, image, "elsewhere", 7)) == NO_EXISTS  # no datastore 7
    assert code(one.image.clone(ALICE, 4242, "none", -1)) == NO_EXISTS
    assert code(one.image.clone(ALICE, image, "", -1)) == ACTION
    ok(one.image.delete(ALICE, copy))  # the copy goes, the source stays
    assert ok(one.image.info(ALICE, image))
    vm_id = alice_vm(one, image)
    assert ok(one.vm.info(ALICE, vm_id))


# ---- locks ---------------------------------------------------------------------------------


def test_a_locked_vm_refuses_what_its_lock_level_stops_until_unlocked(
    lines: dict[str, Any], one: Any, cloud: Cloud, image: int
) -> None:
    vm_id = alice_vm(one, image)
    ok(one.vm.chmod(ALICE, vm_id, *KEEP3, 1, 0, 0, *KEEP3))  # bob may use it, not manage it
    assert code(one.vm.lock(BOB, vm_id, 1, False)) == AUTHORIZATION  # locking needs MANAGE
    assert code(one.vm.lock(BOB, 4242, 1, False)) == NO_EXISTS
    for level in (0, 5, -1):
        assert code(one.vm.lock(ALICE, vm_id, level, False)) == ACTION, level
    assert ok(one.vm.lock(ALICE, vm_id, 3, False)) == vm_id  # ADMIN: stops chown only
    assert ok(one.vm.rename(ALICE, vm_id, "still")) == vm_id
    assert code(one.vm.chown(ADMIN, vm_id, -1, my_ids(one, ALICE)[1])) == AUTHORIZATION
    assert code(one.vm.lock(ALICE, vm_id, 2, True)) == ACTION  # test: already locked
    assert ok(one.vm.lock(ALICE, vm_id, 2, False)) == vm_id  # MANAGE: changes stop
    xml = valid_in_both_lines(lines, "vm", vm_id)  # info still works; 7.4 shows the LOCK
    assert "<LOCK><LOCKED>2</LOCKED></LOCK>" in ok(one.vm.info(ALICE, vm_id))
    refused = one.vm.rename(ALICE, vm_id, "other")
    assert code(refused) == AUTHORIZATION and "locked" in refused[1] and "unlock" in refused[1]
    assert code(one.vm.action(ALICE, "poweroff", vm_id)) == AUTHORIZATION
    assert code(one.vm.chmod(ALICE, vm_id, *KEEP3, 0, 0, 0, *KEEP3)) == AUTHORIZATION
    assert "<NAME>still</NAME>" in xml
    assert code(one.vm.unlock(BOB, vm_id)) == AUTHORIZATION
    assert ok(one.vm.unlock(ALICE, vm_id)) == vm_id
    assert "<LOCK>" not in ok(one.vm.info(ALICE, vm_id))
    assert ok(one.vm.rename(ALICE, vm_id, "other")) == vm_id


def test_a_use_locked_image_starts_no_vm_and_cannot_be_deleted(
    one: Any, cloud: Cloud, admin: Principal, image: int
) -> None:
    mine = int(ok(one.image.clone(ALICE, image, "locked", -1)))
    assert code(one.image.lock(BOB, mine, 1, False)) == NO_EXISTS  # alice's, private
    assert code(one.image.lock(BOB, image, 1, False)) == AUTHORIZATION  # public: bob uses it
    assert ok(one.image.lock(ALICE, mine, 1, False)) == mine  # USE: even using stops
    assert "<LOCK><LOCKED>1</LOCKED></LOCK>" in ok(one.image.info(ALICE, mine))
    refused = one.vm.allocate(ALICE, f'NAME="w"\nMEMORY="128"\nDISK=[IMAGE_ID="{mine}"]', False)
    assert code(refused) == AUTHORIZATION and "locked" in refused[1]
    assert code(one.image.delete(ALICE, mine)) == AUTHORIZATION
    assert code(one.image.rename(ALICE, mine, "x")) == AUTHORIZATION
    assert ok(one.image.unlock(ALICE, mine)) == mine
    alice_vm(one, mine)
    assert ok(one.image.rename(ALICE, mine, "x")) == mine
