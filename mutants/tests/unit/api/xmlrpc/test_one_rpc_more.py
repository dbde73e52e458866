"""Networks (4.4+ address ranges, 3.x leases), VM devices, images and hosts over XML-RPC."""

from __future__ import annotations

from typing import Any

import pyone
import pytest

SESSION = "oneadmin:secret"


def test_pyone_vnet_add_ar_reserve_hold(one: Any, backend: Any) -> None:
    one.vn.add_ar(0, 'AR=[TYPE="IP4", IP="10.0.0.10", SIZE="10"]')
    _, net_id, ar = backend.calls[-1]
    assert net_id == 0 and (ar.type, ar.ip, ar.size) == ("IP4", "10.0.0.10", 10)
    reserved = one.vn.reserve(0, 'SIZE="2"\nNAME="res"')
    assert backend.calls[-1][2].size == 2 and one.vn.info(reserved).NAME == "res"
    assert one.vn.hold(0, 'LEASES=[IP="10.0.0.5"]') == 0
    assert backend.calls[-1] == ("network_hold", 0, "10.0.0.5")
    one.vn.release(0, 'LEASES=[IP="10.0.0.5"]')
    assert backend.calls[-1] == ("network_release", 0, "10.0.0.5")
    assert [ar.IP for ar in one.vn.info(0).AR_POOL.AR] == ["10.1.0.2", "10.0.0.10"]


def test_vn_allocate_accepts_address_ranges_and_3x_ranged_networks(rpc: Any, backend: Any) -> None:
    ok, net_id, _ = rpc.one.vn.allocate(
        SESSION, 'NAME="private"\nBRIDGE="br1"\nAR=[TYPE="IP4", IP="192.168.1.2", SIZE="50"]'
    )
    request = backend.calls[-1][1]
    assert ok and request.name == "private" and request.ranges[0].size == 50
    rpc.one.vn.allocate(
        SESSION, 'NAME="old"\nTYPE="RANGED"\nNETWORK_ADDRESS="10.9.0.0"\nNETWORK_SIZE="C"'
    )
    request = backend.calls[-1][1]
    assert (request.ranges[0].ip, request.ranges[0].size) == ("10.9.0.0", 254)
    rpc.one.vn.allocate(
        SESSION, 'NAME="fixed"\nTYPE="FIXED"\nLEASES=[IP="10.8.0.1"]\nLEASES=[IP="10.8.0.2"]'
    )
    assert [r.ip for r in backend.calls[-1][1].ranges] == ["10.8.0.1", "10.8.0.2"]


def test_3x_addleases_and_rmleases(rpc: Any, backend: Any) -> None:
    assert rpc.one.vn.addleases(SESSION, 0, 'LEASES=[IP="10.1.0.99"]')[0]
    assert backend.calls[-1][2].ip == "10.1.0.99" and backend.calls[-1][2].size == 1
    assert rpc.one.vn.rmleases(SESSION, 0, 'LEASES=[IP="10.1.0.99"]')[0]
    assert backend.calls[-1] == ("network_remove_lease", 0, "10.1.0.99")


def test_bad_network_arguments_change_nothing(rpc: Any, backend: Any) -> None:
    ok, message, code = rpc.one.vn.add_ar(SESSION, 0, 'AR=[TYPE="IP4", SIZE="many"]')
    assert (ok, code) == (False, 0x800) and "SIZE='many'" in message
    ok, message, code = rpc.one.vn.hold(SESSION, 7, 'LEASES=[IP="10.0.0.5"]')
    assert (ok, code) == (False, 0x400)
    assert not [c for c in backend.calls if c[0] not in ("authenticate",)]


def test_vm_devices_update_deploy_chown(one: Any, backend: Any) -> None:
    one.vm.attach(3, 'DISK=[IMAGE_ID="3", TARGET="vdb"]')
    assert backend.calls[-1][2].image_id == 3 and backend.calls[-1][2].target == "vdb"
    one.vm.attachnic(3, 'NIC=[NETWORK_ID="0"]')
    assert backend.calls[-1][2].network_id == 0
    with pytest.raises(pyone.OneNoExistsException):
        one.vm.attachnic(3, 'NIC=[NETWORK_ID="9"]')  # a NIC on a missing network
    one.vm.detach(3, 1)
    one.vm.detachnic(3, 0)
    one.vm.update(3, {"LABELS": "web"}, 1)  # pyone renders a flat dict as template text
    assert backend.calls[-1] == ("vm_update", 3, (("LABELS", "web"),), True)
    one.vm.update(3, {"TEMPLATE": {"DESCRIPTION": "x"}}, 0)  # and a nested one as XML
    assert backend.calls[-1] == ("vm_update", 3, (("DESCRIPTION", "x"),), False)
    one.vm.deploy(3, 0)
    one.vm.chown(3, 5, -1)
    assert backend.calls[-1] == ("vm_chown", 3, 5, -1)


def test_backend_not_implemented_is_an_action_error(rpc: Any) -> None:
    ok, message, code = rpc.one.vm.migrate(SESSION, 3, 1, True)
    assert (ok, code) == (False, 0x800) and "not supported by this cloud yet" in message


def test_images_and_hosts(rpc: Any, backend: Any) -> None:
    ok, image_id, _ = rpc.one.image.allocate(
        SESSION, 'NAME="debian"\nPATH="/tmp/debian.qcow2"\nTYPE="OS"\nPERSISTENT="YES"', 1
    )
    request = backend.calls[-1][1]
    assert ok and image_id == 4 and request.persistent and request.path == "/tmp/debian.qcow2"
    ok, message, code = rpc.one.image.allocate(SESSION, 'NAME="nothing"', 1)
    assert (ok, code) == (False, 0x800) and "neither PATH nor SOURCE" in message
    rpc.one.image.enable(SESSION, 4, False)
    assert backend.calls[-1] == ("image_enable", 4, False)
    rpc.one.image.chtype(SESSION, 4, "datablock")
    assert backend.calls[-1] == ("image_chtype", 4, "DATABLOCK")
    assert rpc.one.host.allocate(SESSION, "node-2", "kvm", "kvm", "dummy", "shared")[1] == 1
    assert backend.calls[-1] == ("host_allocate", "node-2", "kvm", "kvm")  # surplus ignored
    rpc.one.host.enable(SESSION, 1, True)
    assert backend.calls[-1] == ("host_enable", 1, True)
