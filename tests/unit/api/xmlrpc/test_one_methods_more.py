"""Later OpenNebula methods over the ports (host status, VM sets, resize, recover, disk saving,
monitoring, accounting), and OpenNebula's own error form for a method of 3.2 or 7.4 that this
cloud does not implement; the coverage counts per line."""

from __future__ import annotations

from typing import Any

import pytest

from stratuslab.api.xmlrpc.catalogue import ONE_3_2, ONE_7_4, WHY_NOT, coverage
from stratuslab.api.xmlrpc.router import all_methods
from stratuslab.core.states import VmAction

S = "oneadmin:secret"
ONE_VM = 'NAME="a"\nDISK=[IMAGE_ID="3"]'


def test_user_enable_addgroup_delgroup_reach_the_identity_port(rpc: Any, backend: Any) -> None:
    assert rpc.one.user.enable(S, 5, False) == [True, 5, 0]
    assert rpc.one.user.addgroup(S, 5, 0) == [True, 5, 0]
    assert rpc.one.user.delgroup(S, 5, 0) == [True, 5, 0]
    made = [c for c in backend.calls if c[0] != "authenticate"]
    assert made[-3:] == [("user_enable", 5, False), ("user_addgroup", 5, 0),
                         ("user_delgroup", 5, 0)]


def test_host_status_enables_disables_and_offlines(rpc: Any, backend: Any) -> None:
    for status, call in ((1, ("host_enable", 0, False)), (2, ("host_offline", 0)),
                         (0, ("host_enable", 0, True))):
        assert rpc.one.host.status(S, 0, status) == [True, 0, 0]
        assert backend.calls[-1] == call
    ok, message, code = rpc.one.host.status(S, 0, 7)
    assert (ok, code) == (False, 0x800) and "0 (enabled)" in message


def test_resize_recover_and_disk_saving_reach_the_vm_port(rpc: Any, backend: Any) -> None:
    vm_id = rpc.one.vm.allocate(S, ONE_VM)[1]
    assert rpc.one.vm.resize(S, vm_id, 'VCPU="2"\nMEMORY="1024"', False) == [True, vm_id, 0]
    assert backend.calls[-1] == ("vm_resize", vm_id, 2, 1024)
    assert rpc.one.vm.resize(S, vm_id, 'CPU="1.4"', False)[0]
    assert backend.calls[-1] == ("vm_resize", vm_id, 1, None)
    assert rpc.one.vm.resize(S, vm_id, 'NAME="x"', False)[2] == 0x800
    assert rpc.one.vm.disksaveas(S, vm_id, 0, "saved", "", -1) == [True, 9, 0]
    assert rpc.one.vm.savedisk(S, vm_id, 0, "saved-3.2") == [True, 9, 0]  # 3.2's name
    assert backend.calls[-1] == ("vm_save_disk", vm_id, 0, "saved-3.2")
    backend.calls.clear()
    rpc.one.vm.recover(S, vm_id, 3)
    assert ("vm_action", vm_id, VmAction.RECOVER_DELETE) in backend.calls
    assert rpc.one.vm.recover(S, vm_id, 5)[2] == 0x800


def test_infoset_leaves_out_what_the_caller_cannot_see(rpc: Any, backend: Any) -> None:
    vm_id = rpc.one.vm.allocate(S, ONE_VM)[1]
    ok, xml, _ = rpc.one.vmpool.infoset(S, f"{vm_id},4242", False)
    assert ok and xml.count("<VM>") == 1 and f"<ID>{vm_id}</ID>" in xml
    assert rpc.one.vmpool.infoset(S, "1,x", False)[2] == 0x800


def test_monitoring_and_accounting_answer_their_documents(rpc: Any, backend: Any) -> None:
    vm_id = rpc.one.vm.allocate(S, ONE_VM)[1]
    backend.boot(vm_id)
    assert rpc.one.vm.monitoring(S, vm_id) == [True, "<MONITORING_DATA/>", 0]
    assert rpc.one.vm.monitoring(S, 4242)[2] == 0x400
    assert rpc.one.host.monitoring(S, 0)[1] == "<MONITORING_DATA/>"
    ok, xml, _ = rpc.one.vmpool.accounting(S, -2, -1, -1)
    assert ok and "<HOSTNAME>node-1</HOSTNAME>" in xml


@pytest.mark.parametrize("method", ["one.vm.attachpci", "one.vdc.allocate", "one.hook.info"])
def test_an_opennebula_method_not_done_here_answers_the_opennebula_error_form(
    rpc: Any, method: str
) -> None:
    ok, message, code = getattr(rpc, method)(S, 1)
    assert (ok, code) == (False, 0x800)
    assert message == f"[{method}] not supported by this cloud"


@pytest.mark.parametrize("method", sorted(WHY_NOT))
def test_a_method_clients_call_but_not_done_here_says_why(rpc: Any, method: str) -> None:
    ok, message, code = getattr(rpc, method)(S, 1, "x")
    assert (ok, code) == (False, 0x800)
    assert message == f"[{method}] not supported by this cloud: {WHY_NOT[method]}"
    assert method in ONE_7_4 and method not in all_methods()


def test_coverage_counts_per_line() -> None:
    counts = coverage(all_methods())
    assert counts["3.2"][1] == len(ONE_3_2) == 59 and counts["7.4"][1] == len(ONE_7_4) == 307
    assert counts["3.2"][0] == 59 and counts["7.4"][0] >= 92  # all of 3.2
    assert set(all_methods()) <= ONE_3_2 | ONE_7_4  # nothing invented
