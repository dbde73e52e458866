"""Every XML the adapter renders parses into pyone's generated bindings with fields filled, and
carries what the original StratusLab client reads."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pyone.bindings as bindings

from stratuslab.api.xmlrpc import render_pools as r
from stratuslab.api.xmlrpc.backend import DatastoreRecord, HostRecord, TemplateRecord
from stratuslab.api.xmlrpc.render_vm import vm_pool_xml, vm_xml
from stratuslab.core.entities import Vm
from stratuslab.core.vmspec import InstanceSpec

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # the FakeBackend's clock


def _vm(**changes: object) -> Vm:
    vm = Vm(
        7,
        "web",
        "alice",
        "users",
        "running",
        3,
        "m1.small",
        1,
        1536,
        host="node-1",
        ip="10.1.0.7",
        mac="02:00:0a:01:00:07",
        spec=InstanceSpec(context={"SSH_KEY": "k]]>v"}),
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(vm, **changes)  # type: ignore[arg-type]


def test_vm_xml_parses_in_pyone_with_what_clients_read(backend: Any) -> None:
    fake = backend.identity
    xml = vm_xml(_vm(), fake, backend.images.records[3])
    assert xml.startswith("<VM>")  # pyone only parses results whose first character is '<'
    vm = bindings.parseString(xml.encode())
    assert type(vm).__name__ == "VMSub"
    assert (vm.ID, vm.UID, vm.GID, vm.UNAME, vm.GNAME, vm.NAME) == (
        7,
        5,
        1,
        "alice",
        "users",
        "web",
    )
    assert (vm.STATE, vm.LCM_STATE) == (3, 3)
    assert vm.PERMISSIONS.OWNER_U == 1 and vm.PERMISSIONS.OTHER_A == 0
    assert vm.STIME == int(NOW.timestamp()) and vm.DEPLOY_ID == "one-7"
    assert vm.TEMPLATE["NIC"]["IP"] == "10.1.0.7" and vm.TEMPLATE["NIC"]["MAC"].startswith("02:00")
    assert vm.TEMPLATE["DISK"]["SOURCE"] == "/var/lib/stratuslab/images/3.qcow2"
    assert vm.TEMPLATE["DISK"]["IMAGE_ID"] == "3"
    assert vm.TEMPLATE["CONTEXT"]["SSH_KEY"] == "k]]>v"  # CDATA split survives
    assert vm.TEMPLATE["MEMORY"] == "1536" and vm.TEMPLATE["CPU"] == "1"
    assert vm.HISTORY_RECORDS.HISTORY[0].HOSTNAME == "node-1"


def test_vm_xml_element_order_follows_vm_xsd(backend: Any) -> None:
    fake = backend.identity
    root = ET.fromstring(vm_xml(_vm(), fake, backend.images.records[3]))
    order = [child.tag for child in root]
    assert order == [
        "ID",
        "UID",
        "GID",
        "UNAME",
        "GNAME",
        "NAME",
        "PERMISSIONS",
        "LAST_POLL",
        "STATE",
        "LCM_STATE",
        "PREV_STATE",
        "PREV_LCM_STATE",
        "RESCHED",
        "STIME",
        "ETIME",
        "DEPLOY_ID",
        "MONITORING",
        "SCHED_ACTIONS",
        "TEMPLATE",
        "USER_TEMPLATE",
        "HISTORY_RECORDS",
        "BACKUPS",
    ]


def test_the_stratuslab_client_paths_are_present(backend: Any) -> None:
    fake = backend.identity
    root = ET.fromstring(vm_xml(_vm(), fake, backend.images.records[3]))
    for path in (
        "STATE",
        "LCM_STATE",
        "TEMPLATE/NIC/IP",
        "TEMPLATE/DISK/SOURCE",
        "HISTORY_RECORDS/HISTORY/HOSTNAME",
        "UNAME",
    ):
        assert root.findtext(path), path


def test_pending_vm_without_host_has_empty_history_and_error_in_user_template(backend: Any) -> None:
    fake = backend.identity
    vm = bindings.parseString(
        vm_xml(_vm(state="pending", host=None, ip=None, mac=None, error="no host"), fake).encode()
    )
    assert (vm.STATE, vm.LCM_STATE) == (1, 0)
    assert vm.HISTORY_RECORDS.HISTORY == [] and vm.USER_TEMPLATE["ERROR"] == "no host"


def test_vm_pool_parses_with_every_vm(backend: Any) -> None:
    fake = backend.identity
    pool = bindings.parseString(vm_pool_xml([_vm(), _vm(id=8)], fake, backend.images.records).encode())
    assert [vm.ID for vm in pool.VM] == [7, 8]


def test_user_and_user_pool_parse(backend: Any) -> None:
    fake = backend.identity
    user = bindings.parseString(r.user_xml(fake.users[5], fake).encode())
    assert (user.ID, user.GID, user.NAME, user.GNAME, user.AUTH_DRIVER) == (
        5,
        1,
        "alice",
        "users",
        "core",
    )
    assert user.GROUPS.ID == [1] and user.ENABLED == 1 and user.PASSWORD == "*"
    pool = bindings.parseString(r.user_pool_xml(fake.users.values(), fake).encode())
    assert [u.NAME for u in pool.USER] == ["oneadmin", "alice"]


def test_group_and_group_pool_parse_with_members(backend: Any) -> None:
    fake = backend.identity
    group = bindings.parseString(r.group_xml(fake.groups[1], [5]).encode())
    assert (group.ID, group.NAME, group.USERS.ID) == (1, "users", [5])
    pool = bindings.parseString(r.group_pool_xml([(g, []) for g in fake.groups.values()]).encode())
    assert [g.NAME for g in pool.GROUP] == ["oneadmin", "users"]


def test_image_and_image_pool_parse(backend: Any) -> None:
    fake = backend.identity
    image = bindings.parseString(r.image_xml(backend.images.records[3], fake, [7]).encode())
    assert (image.ID, image.NAME, image.UNAME, image.STATE, image.SIZE) == (
        3,
        "ttylinux",
        "alice",
        1,
        40,
    )
    assert image.SOURCE.endswith("3.qcow2") and image.VMS.ID == [7] and image.RUNNING_VMS == 1
    assert image.PERMISSIONS.OTHER_U == 1  # public
    pool = bindings.parseString(r.image_pool_xml(backend.images.records.values(), fake).encode())
    assert len(pool.IMAGE) == 1


def test_vnet_from_a_plain_dict_parses_with_address_ranges(backend: Any) -> None:
    fake = backend.identity
    net = {
        "id": 2,
        "name": "private",
        "owner": "alice",
        "group": "users",
        "bridge": "br2",
        "address_ranges": [{"type": "IP4", "ip": "192.168.0.2", "size": 10}],
    }
    vnet = bindings.parseString(r.vnet_xml(net, fake).encode())
    assert (vnet.ID, vnet.NAME, vnet.UID, vnet.BRIDGE) == (2, "private", 5, "br2")
    assert vnet.AR_POOL.AR[0].IP == "192.168.0.2" and vnet.AR_POOL.AR[0].SIZE == 10
    pool = bindings.parseString(r.vnet_pool_xml(backend.networks.list(None), fake).encode())  # type: ignore[arg-type]
    assert pool.VNET[0].NAME == "public"


def test_host_pool_parses_with_capacity() -> None:
    host = HostRecord(0, "node-1", total_cpu=200, total_mem_kib=4 << 20, running_vms=1, vm_ids=(7,))
    pool = bindings.parseString(r.host_pool_xml([host]).encode())
    parsed = pool.HOST[0]
    assert (parsed.NAME, parsed.STATE, parsed.HOST_SHARE.TOTAL_CPU) == ("node-1", 2, 200)
    assert parsed.VMS.ID == [7]


def test_vm_template_pool_parses_with_template_attributes(backend: Any) -> None:
    fake = backend.identity
    rec = TemplateRecord(4, "tiny", "alice", "users", 'NAME="tiny"\nDISK=[IMAGE_ID="3"]', NOW)
    pool = bindings.parseString(r.vmtemplate_pool_xml([rec], fake).encode())
    parsed = pool.VMTEMPLATE[0]
    assert (parsed.ID, parsed.NAME, parsed.REGTIME) == (4, "tiny", int(NOW.timestamp()))
    assert parsed.TEMPLATE["DISK"]["IMAGE_ID"] == "3"


def test_acl_pool_renders_masks_in_hex(backend: Any) -> None:
    pool = bindings.parseString(r.acl_pool_xml(backend.system.acls.values()).encode())
    acl = pool.ACL[0]
    assert (acl.USER, acl.RESOURCE, acl.RIGHTS, acl.STRING) == (
        "100000001",
        "2000000000",
        "1",
        "@1 VM/* USE *",
    )


def test_datastore_pool_parses() -> None:
    pool = bindings.parseString(
        r.datastore_pool_xml([DatastoreRecord(1, "default", total_mb=9, image_ids=(3,))]).encode()
    )
    ds = pool.DATASTORE[0]
    assert (ds.ID, ds.NAME, ds.TOTAL_MB, ds.IMAGES.ID) == (1, "default", 9, [3])
